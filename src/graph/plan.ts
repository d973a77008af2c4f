import { CommandBatch, type Dispatch } from '../gpu/commands.ts';
import { GradlensError, fromGpuError } from '../gpu/errors.ts';
import type { Graph, GraphNode, Shape } from './ir.ts';
import { sizeOf } from './ir.ts';
import { assignSlots, type Lifetime } from './liveness.ts';
import type { Model } from './model.ts';
import { isLrp, type BackwardRules, type OpContext, type OpDefinition } from './op.ts';
import { relevanceRule } from './lrp.ts';
import { opDefinition } from './registry.ts';
import { inferShapes } from './shapes.ts';
import { fuseRelu } from './fold.ts';
import { siteGraph, type LayerSite } from './site.ts';
import { seedGradient, type SeedScore as ScoreKind } from '../kernels/attribution/seed.ts';
import { gatherForward, packIndexMap, type IndexMap } from '../kernels/gather.ts';

export type { SeedScore as ScoreKind } from '../kernels/attribution/seed.ts';
export type { LayerSite } from './site.ts';

export interface PlanOptions {
  batch: number;
  /** Tensors whose activations (and gradients, where one flows) come back with every run. */
  capture?: readonly string[];
  /** Backward rule set: standard, guided-backprop, deconvnet or RectGrad with its percentile (only ReLUs differ). */
  rules?: BackwardRules;
  /**
   * Where the backward pass starts: a score of each sample's target class (the objective), an output gradient
   * given with each run ('given'), or nowhere (a forward-only plan).
   */
  objective?: ScoreKind | 'given' | 'none';
  /** Fuse ReLUs into the Conv/Gemm before them (default true); tests turn it off to check both paths. */
  fuse?: boolean;
  /**
   * Leave the forward pass out (with objective 'given'): for a graph whose backward reads no forward value, as the
   * affine prefix the engine folds gradients at (src/graph/linear-prefix.ts). Its output is then not computed.
   */
  backwardOnly?: boolean;
  /**
   * A tensor the backward pass stops at (layer methods): only it and what lies between it and the output get
   * gradients; its value and gradient are `buffers.layer`. With `inject`, the caller writes its value.
   */
  layer?: LayerSite;
  /** The tensor taken as the model's output, the nodes after it left out (neuron methods: a neuron is a class). */
  output?: string;
}

export interface RunInputs {
  /** batch × input shape, row-major. */
  input: Float32Array;
  /** Per sample: a class index, or 'top1'; one value applies to every sample. Default 'top1'. */
  target?: 'top1' | number | readonly (number | 'top1')[];
  /** With objective 'given': the upstream gradient at the output, batch × output shape. */
  outputGradient?: Float32Array;
  /** With an injected layer: its value for every sample, batch × layer shape. */
  layer?: Float32Array;
}

export interface RunResult {
  output: Float32Array;
  inputGradient?: Float32Array;
  /** The class each sample's score was taken of (top-1 resolved on the GPU). */
  target?: Int32Array;
  score?: Float32Array;
  activations: Record<string, Float32Array>;
  gradients: Record<string, Float32Array>;
  /** With a layer: its value and its gradient (where one flows). */
  layer?: { value: Float32Array; gradient?: Float32Array };
}

/** The plan's buffers, for callers that fill inputs and consume results on the GPU (the attribution engine). */
export interface PlanBuffers {
  input: GPUBuffer;
  output: GPUBuffer;
  inputGradient?: GPUBuffer;
  /** With objective 'given': where the output's upstream gradient goes. */
  outputGradient?: GPUBuffer;
  /** With a score seed: the per-sample target (i32, −1 for top-1), the resolved target and the score. */
  target?: GPUBuffer;
  resolvedTarget?: GPUBuffer;
  score?: GPUBuffer;
  activations: ReadonlyMap<string, GPUBuffer>;
  gradients: ReadonlyMap<string, GPUBuffer>;
  /** With a layer: its value (written by the caller when injected) and its gradient (where one flows). */
  layer?: { value: GPUBuffer; gradient?: GPUBuffer };
}

interface Readout {
  name: string;
  source: GPUBuffer;
  bytes: number;
  offset: number;
  kind: 'f32' | 'i32';
}

const INF = Number.POSITIVE_INFINITY;

/**
 * A fixed schedule for a graph at one batch size: shapes inferred, buffers allocated once and reused by
 * liveness, bind groups made once. A run is one command buffer, one submit, one readback.
 */
export class Plan {
  private queue: Promise<unknown> = Promise.resolve();

  private readonly commands: CommandBatch;

  private constructor(
    private readonly model: Model,
    readonly batch: number,
    readonly shapes: ReadonlyMap<string, Shape>,
    /** Forward, seed and backward, bound once: record them into a larger batch with CommandBatch.add. */
    readonly dispatches: readonly Dispatch[],
    readonly buffers: PlanBuffers,
    private readonly staging: GPUBuffer,
    private readonly readouts: readonly Readout[],
    private readonly owned: readonly GPUBuffer[],
    readonly slotBytes: number,
    /** The graph it runs: the model's, or cut at another output, or with a layer's own read (site.ts). */
    private readonly graph: Graph,
    /** The layer's tensor in that graph, where the caller writes its value. */
    private readonly injected?: string,
  ) {
    this.commands = new CommandBatch(model.gpu.device, `${model.graph.name} batch ${batch}`).add(...dispatches);
    for (const readout of readouts) this.commands.copy(readout.source, staging, readout.bytes, 0, readout.offset);
  }

  /**
   * GPU bytes this plan allocated: its slots, saved tensors, targets and readback buffer, and its dispatches' uniform
   * buffers (not the model's weights, which plans share). What a memory budget counts for a plan.
   */
  get bytes(): number {
    let bytes = 0;
    for (const buffer of this.owned) bytes += buffer.size;
    for (const dispatch of this.dispatches) for (const buffer of dispatch.bound.uniforms) bytes += buffer.size;
    return bytes;
  }

  /** Runs the schedule on one batch. Runs of one plan are queued: its buffers serve one batch at a time. */
  run(inputs: RunInputs): Promise<RunResult> {
    const result = this.queue.then(() => this.runNow(inputs));
    this.queue = result.catch(() => undefined);
    return result;
  }

  destroy(): void {
    for (const buffer of this.owned) buffer.destroy();
    for (const dispatch of this.dispatches) dispatch.bound.uniforms.forEach((buffer) => buffer.destroy());
  }

  private async runNow(inputs: RunInputs): Promise<RunResult> {
    const { device } = this.model.gpu;
    const { graph } = this;
    const expected = this.batch * sizeOf(graph.inputShape);
    if (inputs.input.length !== expected) {
      throw new GradlensError(
        'BAD_INPUT',
        `input has ${inputs.input.length} values; ${graph.name} takes batch ${this.batch} × [${graph.inputShape.join(', ')}] = ${expected}`,
      );
    }
    const nan = inputs.input.findIndex((v) => !Number.isFinite(v));
    if (nan >= 0)
      throw new GradlensError('NAN_INPUT', `input value ${nan} is ${inputs.input[nan]}: clean the input (NaN or infinity) before explaining it`);
    device.queue.writeBuffer(this.buffers.input, 0, inputs.input.buffer, inputs.input.byteOffset, inputs.input.byteLength);
    if (this.buffers.outputGradient) {
      const gradient = inputs.outputGradient;
      const size = sizeOf(this.shapes.get(graph.output)!);
      if (!gradient || gradient.length !== size)
        throw new GradlensError(
          'BAD_INPUT',
          `this plan needs an output gradient of ${size} values (batch × output), got ${gradient?.length ?? 'none'}`,
        );
      device.queue.writeBuffer(this.buffers.outputGradient, 0, gradient.buffer, gradient.byteOffset, gradient.byteLength);
    }
    if (this.buffers.layer && this.injected !== undefined) {
      const value = inputs.layer;
      const size = sizeOf(this.shapes.get(this.injected)!);
      if (!value || value.length !== size)
        throw new GradlensError('BAD_INPUT', `this plan needs the layer's values (${size}: batch × layer), got ${value?.length ?? 'none'}`);
      device.queue.writeBuffer(this.buffers.layer.value, 0, value.buffer, value.byteOffset, value.byteLength);
    }
    if (this.buffers.target) device.queue.writeBuffer(this.buffers.target, 0, this.targetIndices(inputs.target) as Int32Array<ArrayBuffer>);
    await this.commands.submit();
    try {
      await this.staging.mapAsync(0x01); // GPUMapMode.READ
    } catch (cause) {
      throw new GradlensError('DEVICE_LOST', `reading back ${graph.name} failed (${String(cause)}): the device was lost; run again for a fresh one`, {
        cause,
      });
    }
    const bytes = this.staging.getMappedRange().slice(0);
    this.staging.unmap();
    const result: RunResult = { output: new Float32Array(0), activations: {}, gradients: {} };
    for (const readout of this.readouts) {
      const data =
        readout.kind === 'i32'
          ? new Int32Array(bytes, readout.offset, readout.bytes / 4)
          : new Float32Array(bytes, readout.offset, readout.bytes / 4);
      const [kind, name] = readout.name.split(':') as [string, string | undefined];
      if (kind === 'activation') result.activations[name!] = data as Float32Array;
      else if (kind === 'layer') result.layer = { ...result.layer!, [name!]: data as Float32Array };
      else if (kind === 'gradient') result.gradients[name!] = data as Float32Array;
      else (result as unknown as Record<string, unknown>)[kind] = data;
    }
    return result;
  }

  /** Per-sample target indices as the seed kernel reads them (−1 for top-1); throws BAD_INPUT on a bad class. */
  targetIndices(target: RunInputs['target'] = 'top1'): Int32Array {
    const classes = sizeOf(this.shapes.get(this.graph.output)!) / this.batch;
    const list = typeof target === 'object' ? target : Array.from({ length: this.batch }, () => target);
    if (list.length !== this.batch) throw new GradlensError('BAD_INPUT', `${list.length} targets for a batch of ${this.batch}`);
    return Int32Array.from(list, (t) => {
      if (t === 'top1') return -1;
      if (!Number.isInteger(t) || t < 0 || t >= classes) throw new GradlensError('BAD_INPUT', `target ${t} is not a class index in [0, ${classes})`);
      return t;
    });
  }

  static async create(model: Model, options: PlanOptions): Promise<Plan> {
    const { gpu } = model;
    const { device } = gpu;
    const sited = siteGraph(model.graph, options.layer, options.output);
    const site = sited.site;
    const inject = site !== undefined && options.layer?.inject === true;
    const neuron = site === undefined ? undefined : options.layer?.neuron;
    const keep = new Set([...(options.capture ?? []), ...(options.layer ? [options.layer.tensor] : [])]);
    // DeepLift's rescale reads a ReLU's input, which a fused ReLU never writes.
    const graph = options.fuse === false || options.rules === 'deeplift' ? sited.graph : fuseRelu(sited.graph, keep);
    const batch = options.batch;
    if (!Number.isInteger(batch) || batch < 1) throw new GradlensError('BAD_PARAMS', `batch must be a positive integer, got ${batch}`);
    const objective = options.objective ?? 'logit';
    const shapes = inferShapes(graph, batch);
    checkDeviceFits(graph, shapes, batch, device.limits);
    const capture = options.capture ?? [];
    for (const name of capture) {
      if (!shapes.has(name) || graph.constants.has(name))
        throw new GradlensError('BAD_PARAMS', `cannot capture "${name}": no such tensor in ${graph.name}`);
    }
    const nodes = graph.nodes;
    const definitions = nodes.map((node) => opDefinition(node.op));
    const isConstant = (name: string) => graph.constants.has(name);
    const bytesOf = (name: string) => sizeOf(shapes.get(name)!) * 4;

    // Views share their input's storage, for values and for gradients alike; but the layer's gradient starts there,
    // and an injected layer's value is the caller's.
    const valueRoot = new Map<string, string>();
    const gradRoot = new Map<string, string>();
    const rootOf = (name: string): string => valueRoot.get(name) ?? name;
    const gradRootOf = (name: string): string => gradRoot.get(name) ?? name;
    nodes.forEach((node, k) => {
      const [output, input] = [node.outputs[0]!, node.inputs[0]!];
      if (!definitions[k]!.view) return;
      if (!(inject && output === site)) valueRoot.set(output, rootOf(input));
      if (output !== site) gradRoot.set(output, gradRootOf(input));
    });

    // The backward stops at the layer; through one neuron of it (NeuronConductance), it goes on from there alone.
    const flow =
      neuron === undefined
        ? gradientFlow(nodes, definitions, site ?? graph.input, graph.output, objective !== 'none')
        : throughNeuron(nodes, definitions, graph.input, site!, graph.output, objective !== 'none');
    const producer = nodes.findIndex((node) => node.outputs.includes(site ?? ''));
    if (neuron !== undefined) checkNeuron(graph, site!, neuron, producer, definitions[producer], inject, sizeOf(shapes.get(site!)!) / batch);
    const rules = options.rules ?? 'standard';
    // LRP: each backward node's relevance rule replaces its vector-Jacobian product.
    const relevance = new Map(isLrp(rules) ? [...flow.backward].map((k) => [k, relevanceRule(nodes[k]!, definitions[k]!, rules)]) : []);
    const F = nodes.length;
    const backwardStep = (k: number) => 2 * F - k; // the seed runs at step F, backward steps follow in reverse order

    const lifetimes = new Map<string, Lifetime>();
    const touch = (key: string, bytes: number, step: number) => {
      const life = lifetimes.get(key) ?? { key, bytes, start: step, end: step };
      life.start = Math.min(life.start, step);
      life.end = Math.max(life.end, step);
      lifetimes.set(key, life);
    };
    const value = (name: string, step: number) => !isConstant(name) && name !== '' && touch(`a:${rootOf(name)}`, bytesOf(rootOf(name)), step);
    const grad = (name: string, step: number) => flow.hasGradient.has(name) && touch(`g:${gradRootOf(name)}`, bytesOf(gradRootOf(name)), step);

    value(graph.input, -1);
    value(graph.input, INF);
    if (site !== undefined) value(site, inject ? -1 : INF);
    if (inject) value(site, INF);
    nodes.forEach((node, k) => [...node.inputs, ...node.outputs].forEach((name) => value(name, k)));
    for (const name of [graph.output, ...capture]) value(name, INF);
    if (flow.enabled) {
      value(graph.output, F);
      grad(graph.output, F);
      nodes.forEach((node, k) => {
        if (!flow.backward.has(k)) return;
        for (const name of [...node.inputs, ...node.outputs]) {
          value(name, backwardStep(k));
          grad(name, backwardStep(k));
        }
        const inputShapes = node.inputs.map((name) => shapes.get(name) ?? []);
        const outputShapes = node.outputs.map((name) => shapes.get(name) ?? []);
        const scratch = relevance.get(k)?.scratch(inputShapes, outputShapes, (i) => isConstant(node.inputs[i] ?? '')) ?? {};
        for (const [label, bytes] of Object.entries(scratch)) touch(`s:${node.name}:${label}`, bytes, backwardStep(k));
      });
      for (const name of [graph.input, ...capture, ...(site === undefined ? [] : [site])]) grad(name, INF);
    }

    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    const { slotOf, slots } = assignSlots([...lifetimes.values()]);
    const slotBuffers = slots.map((slot) =>
      device.createBuffer({ label: `${graph.name} slot ${slot.index}`, size: Math.max(slot.bytes, 4), usage: STORAGE_COPY }),
    );
    const owned = [...slotBuffers];
    const valueBuffer = (name: string): GPUBuffer => model.weights.get(name) ?? slotBuffers[slotOf.get(`a:${rootOf(name)}`)!]!;
    const gradBuffer = (name: string): GPUBuffer => slotBuffers[slotOf.get(`g:${gradRootOf(name)}`)!]!;
    const makeBuffer = (label: string, bytes: number, usage = STORAGE_COPY) => {
      const buffer = device.createBuffer({ label, size: Math.max(4, Math.ceil(bytes / 4) * 4), usage });
      owned.push(buffer);
      return buffer;
    };

    const saved = new Map<string, GPUBuffer>(); // what a node's forward keeps for its backward, by node and label
    let discard: GPUBuffer | undefined;
    let masked: GPUBuffer | undefined;
    const written = new Set<string>();
    const contextFor = (node: GraphNode, k: number): OpContext => ({
      gpu,
      node,
      inputShapes: node.inputs.map((name) => shapes.get(name) ?? []),
      outputShapes: node.outputs.map((name) => shapes.get(name) ?? []),
      input: (i) => valueBuffer(node.inputs[i]!),
      // An injected layer's producer writes a scratch buffer: the caller's values stand in for its result.
      output: (i) =>
        inject && node.outputs[i] === site ? (discard ??= makeBuffer(`${site} (replaced)`, bytesOf(site))) : valueBuffer(node.outputs[i]!),
      isConstant: (i) => isConstant(node.inputs[i] ?? ''),
      constantData: (i) => graph.constants.get(node.inputs[i] ?? '')?.data,
      saved: (label, bytes) => {
        const key = `${node.name} ${label}`;
        if (!saved.has(key)) saved.set(key, makeBuffer(key, bytes));
        return saved.get(key)!;
      },
      // Through one neuron: the layer's producer continues from the masked gradient.
      outputGradient: (i) =>
        neuron !== undefined && node.outputs[i] === site ? (masked ??= makeBuffer(`${site} neuron`, bytesOf(site!))) : gradBuffer(node.outputs[i]!),
      hasOutputGradient: (i) => flow.hasGradient.has(node.outputs[i] ?? ''),
      inputGradient: (i) => {
        const name = node.inputs[i]!;
        if (!flow.hasGradient.has(name) || isConstant(name) || flow.writes?.(k, name) === false) return undefined;
        const key = gradRootOf(name);
        const accumulate = written.has(key);
        written.add(key);
        return { buffer: gradBuffer(name), accumulate };
      },
      scratch: (label) => {
        const slot = slotOf.get(`s:${node.name}:${label}`);
        if (slot === undefined) throw new GradlensError('INTERNAL', `${node.op} "${node.name}" asked for undeclared scratch "${label}"`);
        return slotBuffers[slot]!;
      },
      rules,
    });

    const dispatches: Dispatch[] = [];
    const contexts = nodes.map((node, k) => contextFor(node, k));
    try {
      if (options.backwardOnly && objective !== 'given')
        throw new GradlensError('BAD_PARAMS', 'a backward-only plan needs its output gradient given (objective "given")');
      for (let k = 0; k < F && !options.backwardOnly; k++) {
        const forward = definitions[k]!.forward;
        if (forward) dispatches.push(...(await forward(contexts[k]!)));
      }
      const buffers: PlanBuffers = {
        input: valueBuffer(graph.input),
        output: valueBuffer(graph.output),
        activations: new Map(),
        gradients: new Map(),
      };
      const readouts: Readout[] = [];
      const outputShape = shapes.get(graph.output)!;
      if (flow.enabled) {
        written.add(gradRootOf(graph.output));
        if (objective === 'given') {
          buffers.outputGradient = gradBuffer(graph.output);
        } else {
          const target = (buffers.target = makeBuffer('targets', batch * 4));
          const resolved = (buffers.resolvedTarget = makeBuffer('resolved targets', batch * 4));
          const scores = (buffers.score = makeBuffer('scores', batch * 4));
          const io = { logits: valueBuffer(graph.output), target, gradLogits: gradBuffer(graph.output), resolvedTarget: resolved, score: scores };
          dispatches.push(await seedGradient(gpu, io, { n: batch, k: sizeOf(outputShape) / batch, score: objective as ScoreKind }));
          readouts.push({ name: 'target', source: resolved, bytes: batch * 4, offset: 0, kind: 'i32' });
          readouts.push({ name: 'score', source: scores, bytes: batch * 4, offset: 0, kind: 'f32' });
        }
        for (let k = F - 1; k >= 0; k--) {
          const backward = relevance.get(k)?.backward ?? definitions[k]!.backward;
          if (k === producer && neuron !== undefined && flow.backward.has(k))
            dispatches.push(await keepNeuron(contexts[k]!, site!, gradBuffer(site!), neuron));
          if (flow.backward.has(k) && backward) dispatches.push(...(await backward(contexts[k]!)));
        }
      }
      readouts.push({ name: 'output', source: valueBuffer(graph.output), bytes: bytesOf(graph.output), offset: 0, kind: 'f32' });
      if (flow.hasGradient.has(graph.input)) {
        buffers.inputGradient = gradBuffer(graph.input);
        readouts.push({ name: 'inputGradient', source: gradBuffer(graph.input), bytes: bytesOf(graph.input), offset: 0, kind: 'f32' });
      }
      for (const name of capture) {
        (buffers.activations as Map<string, GPUBuffer>).set(name, valueBuffer(name));
        if (flow.hasGradient.has(name)) (buffers.gradients as Map<string, GPUBuffer>).set(name, gradBuffer(name));
        readouts.push({ name: `activation:${name}`, source: valueBuffer(name), bytes: bytesOf(name), offset: 0, kind: 'f32' });
        if (flow.hasGradient.has(name))
          readouts.push({ name: `gradient:${name}`, source: gradBuffer(name), bytes: bytesOf(name), offset: 0, kind: 'f32' });
      }
      if (site !== undefined) {
        const gradient = flow.hasGradient.has(site) ? gradBuffer(site) : undefined;
        buffers.layer = { value: valueBuffer(site), ...(gradient ? { gradient } : {}) };
        readouts.push({ name: 'layer:value', source: valueBuffer(site), bytes: bytesOf(site), offset: 0, kind: 'f32' });
        if (gradient) readouts.push({ name: 'layer:gradient', source: gradient, bytes: bytesOf(site), offset: 0, kind: 'f32' });
      }
      let offset = 0;
      for (const readout of readouts) {
        readout.offset = offset;
        offset += Math.ceil(readout.bytes / 4) * 4;
      }
      const staging = makeBuffer(`${graph.name} readback`, offset, 0x01 | 0x08); // MAP_READ | COPY_DST
      const slotBytes = slots.reduce((sum, slot) => sum + slot.bytes, 0);
      return new Plan(model, batch, shapes, dispatches, buffers, staging, readouts, owned, slotBytes, graph, inject ? site : undefined);
    } finally {
      const [invalid, outOfMemory] = await Promise.all([device.popErrorScope(), device.popErrorScope()]);
      const error = outOfMemory ?? invalid;
      if (error) throw fromGpuError(error, `planning ${graph.name} at batch ${batch}`);
    }
  }
}

const STORAGE_COPY = 0x80 | 0x04 | 0x08; // STORAGE | COPY_SRC | COPY_DST

/** A neuron the backward passes through: an element of a tensor an op (not a view, not the input) computes. */
function checkNeuron(
  graph: Graph,
  site: string,
  neuron: number,
  producer: number,
  definition: OpDefinition | undefined,
  inject: boolean,
  size: number,
) {
  const fail = (why: string) => {
    throw new GradlensError('BAD_PARAMS', `neuron ${neuron} of "${site}": ${why}`);
  };
  if (inject) fail('a neuron to pass through and injected values exclude each other');
  if (!Number.isInteger(neuron) || neuron < 0 || neuron >= size) fail(`not an element of the layer's ${size} per sample`);
  if (producer < 0 || !definition || definition.view) fail(`name a tensor an op of ${graph.name} computes (not the input, not a reshaped view)`);
}

/** The producer's upstream gradient: the layer's gradient at `neuron` of each sample, zero elsewhere (a gather with −1 taps). */
async function keepNeuron(producer: OpContext, site: string, gradient: GPUBuffer, neuron: number): Promise<Dispatch> {
  const k = producer.node.outputs.indexOf(site);
  const [batch, ...rest] = producer.outputShapes[k]!;
  const size = rest.reduce((a, b) => a * b, 1);
  const map: IndexMap = {
    inShape: [batch!, size],
    outShape: [batch!, size],
    tables: [Array.from({ length: batch! }, (_, n) => n), Array.from({ length: size }, (_, e) => (e === neuron ? e : -1))],
  };
  const { data } = packIndexMap(map);
  const tables = producer.saved('neuron tables', data.byteLength);
  producer.gpu.device.queue.writeBuffer(tables, 0, data as Int32Array<ArrayBuffer>);
  return gatherForward(producer.gpu, { x: gradient, y: producer.outputGradient(k), tables }, map);
}

/**
 * Refuses, before anything is allocated, a tensor larger than one buffer binding: at batch 1 it is a property of the
 * model at this input size, not of an input, and running would only fail dispatch by dispatch.
 */
function checkDeviceFits(graph: Graph, shapes: ReadonlyMap<string, Shape>, batch: number, limits: GPUSupportedLimits): void {
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  let largest: [string, Shape] | undefined;
  for (const [name, shape] of shapes) {
    if (!graph.constants.has(name) && (!largest || sizeOf(shape) > sizeOf(largest[1]))) largest = [name, shape];
  }
  if (!largest || sizeOf(largest[1]) * 4 <= limit) return;
  const [name, shape] = largest;
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  const perSample = (sizeOf(shape) * 4) / batch;
  const advice =
    batch > 1 && perSample <= limit
      ? `use a batch of at most ${Math.floor(limit / perSample)}`
      : `the model at input [${graph.inputShape.join(', ')}] is too large for this device: use a smaller input or a device with larger buffers`;
  throw new GradlensError(
    'BUFFER_TOO_LARGE',
    `${graph.name}: tensor "${name}" [${shape.join(', ')}] needs ${mib(sizeOf(shape) * 4)} at batch ${batch}, ` +
      `but this device binds at most ${mib(limit)}: ${advice}`,
  );
}

interface GradientFlow {
  enabled: boolean;
  /** Tensors that get a gradient: on a path from the input to the output. */
  hasGradient: Set<string>;
  /** Nodes whose backward runs. */
  backward: Set<number>;
  /** Does node k's backward write the gradient of its input `name`? (Default: wherever that tensor has one.) */
  writes?: (k: number, name: string) => boolean;
}

/**
 * The backward of f to the layer, then from neuron j of the layer (masked there) to the input: the flow from the layer
 * to the output and the flow from the input to the layer, each node writing only its own part's gradients, so a branch
 * around the layer (a residual Add's skip input) carries nothing to the input.
 */
function throughNeuron(
  nodes: readonly GraphNode[],
  definitions: readonly OpDefinition[],
  input: string,
  site: string,
  output: string,
  enabled: boolean,
): GradientFlow {
  const after = gradientFlow(nodes, definitions, site, output, enabled);
  const before = gradientFlow(nodes, definitions, input, site, after.enabled);
  return {
    enabled: after.enabled && before.enabled,
    hasGradient: new Set([...after.hasGradient, ...before.hasGradient]),
    backward: new Set([...after.backward, ...before.backward]),
    writes: (k, name) => (after.backward.has(k) ? after : before).hasGradient.has(name),
  };
}

function gradientFlow(
  nodes: readonly GraphNode[],
  definitions: readonly OpDefinition[],
  input: string,
  output: string,
  enabled: boolean,
): GradientFlow {
  const dependsOnInput = new Set([input]);
  for (const node of nodes) if (node.inputs.some((name) => dependsOnInput.has(name))) node.outputs.forEach((name) => dependsOnInput.add(name));
  const hasGradient = new Set<string>();
  const backward = new Set<number>();
  if (!enabled || !dependsOnInput.has(output)) return { enabled: enabled && dependsOnInput.has(output), hasGradient, backward };
  hasGradient.add(output);
  for (let k = nodes.length - 1; k >= 0; k--) {
    const node = nodes[k]!;
    if (!node.outputs.some((name) => hasGradient.has(name))) continue;
    const differentiable = node.inputs.filter((name) => dependsOnInput.has(name));
    if (differentiable.length === 0) continue;
    const definition = definitions[k]!;
    if (!definition.view && !definition.backward) {
      throw new GradlensError('UNSUPPORTED_OP', `${node.op} "${node.name}" has no gradient rule, and the gradient must pass through it`);
    }
    if (!definition.view) backward.add(k);
    differentiable.forEach((name) => hasGradient.add(name));
  }
  return { enabled, hasGradient, backward };
}
