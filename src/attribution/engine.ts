import { loopBudget } from '../gpu/limits.ts';
import { WORKGROUP_SIZE, wgslEnum } from '../kernels/wgsl.ts';
import { readFloats } from '../gpu/buffers.ts';
import { CommandBatch, gridFor } from '../gpu/commands.ts';
import { GradlensError } from '../gpu/errors.ts';
import type { Model } from '../graph/model.ts';
import { pairsRows, type BackwardRules } from '../graph/op.ts';
import type { LayerSite, ScoreKind } from '../graph/plan.ts';
import { sizeOf } from '../graph/ir.ts';
import { inferShapes } from '../graph/shapes.ts';
import { linearPrefix, type LinearPrefix } from '../graph/linear-prefix.ts';
import { streamIds } from './philox.ts';
import { runJob, type Copy, type Job, type RunControl } from './runner.ts';

/**
 * The virtual batch: for each of `count` inputs, `samples` noise samples × `steps` path points,
 *   point = b + α (x̃ − b),  x̃ = x + σ·ε,
 * gradients at every point folded into w_k·g·m on the GPU and combined over samples (DESIGN.md, "One idea at the centre").
 */
export interface PointSpec {
  inputs: Float32Array;
  count: number;
  /** One baseline per input (count × size), or a set to draw from per sample (GradientSHAP, expected gradients). */
  baselines: { perInput: Float32Array } | { set: Float32Array; setCount: number };
  /** Quadrature nodes and weights along the path; or α ~ U(0, 1) per sample, weight 1 (then steps = 1). */
  path: { alphas: ArrayLike<number>; weights: ArrayLike<number> } | 'random';
  samples: number;
  /** Noise σ per input (absolute); 0 for none. */
  stdev: Float32Array;
  /** 'activation': the layer's value at the point (a layer's gradient × activation, with `at.layer` not injected). */
  multiply: 'none' | 'input' | 'input-minus-baseline' | 'activation';
  /**
   * Σ_k g_k ⊙ (y_{k+1} − y_k) over each input's path instead of Σ w_k g_k, y being the layer's value (Captum
   * LayerConductance: `at.layer` not injected; the path's weights are unused).
   */
  conductance?: boolean;
  combine: 'mean' | 'mean-square' | 'variance';
  /** Each input's noise stream id (default its index): a stable id keeps an input's draws whatever its batch. */
  streams?: Uint32Array;
  /** Noise given instead of drawn (samples × count × size), e.g. another library's draws to compare with. */
  noise?: Float32Array;
  /** Absolute value of each point's term before combining (only with steps = 1, where a point is a sample). */
  absolute?: boolean;
  seed: number;
}

export interface EngineOptions extends RunControl {
  /** Resolved class per input (with `at.output`, a neuron: a flat index into that tensor). */
  targets: Int32Array;
  score: ScoreKind;
  rules?: BackwardRules;
  /** Where the gradients are taken, for layer and neuron methods (default: the model's input, of its output). */
  at?: EngineSite;
  /**
   * Fold the points' gradients where the model stops being affine in its input and take that part's backward once per
   * input (src/graph/linear-prefix.ts), where the result is the same; default true. Tests turn it off to compare.
   */
  foldAtPrefix?: boolean;
}

/**
 * The engine at a layer: with `layer`, the gradients are the layer's; injected, the points are made at the layer
 * (`inputs` and `baselines` are then layer values) while every point's model input is its input's row of
 * `modelInputs`; not injected, the points are model inputs and `multiply` must be 'none' (Captum InternalInfluence).
 * With `output`, that tensor is the output (NeuronGradient, NeuronIntegratedGradients: the target is a neuron).
 */
export interface EngineSite {
  layer?: LayerSite;
  output?: string;
  /** With an injected layer: the model inputs (count × input size) the points share. */
  modelInputs?: Float32Array;
}

export interface EngineResult {
  attribution: Float32Array;
  points: number;
  chunks: number;
  chunkSize: number;
}

const COMBINE = { mean: 0, 'mean-square': 1, variance: 2 } as const;
/** Loop guard cost of attribution_points (up to 4 Philox draws of 10 rounds) and per point of attribution_accumulate. */
const POINTS_ITERATIONS = 48;
const ACCUMULATE_ITERATIONS_PER_POINT = 1 + POINTS_ITERATIONS;

/** Runs the points through the model on the runner, accumulating on the GPU; reads back one attribution per input. */
export async function integrate(model: Model, spec: PointSpec, options: EngineOptions): Promise<EngineResult> {
  const { gpu } = model;
  const site = options.at ?? {};
  const inputSize = sizeOf(model.graph.inputShape);
  const layerSize = site.layer ? sizeOf(inferShapes(model.graph, 1).get(site.layer.tensor)?.slice(1) ?? []) : inputSize;
  const injected = site.layer?.inject === true;
  // Points are made where the values go (the layer when injected) and gradients read at the layer when there is one.
  const size = injected ? layerSize : inputSize;
  // Through one neuron of the layer (NeuronConductance), the gradients are the input's again.
  const atLayer = site.layer !== undefined && site.layer.neuron === undefined;
  const prefix = foldsAtPrefix(model, spec, options);
  const gradientSize = atLayer ? layerSize : (prefix?.size ?? inputSize);
  const atLayerValues = spec.multiply === 'activation' || spec.conductance === true;
  if (atLayer && !injected && !['none', 'activation'].includes(spec.multiply))
    throw new GradlensError('BAD_PARAMS', 'gradients at a layer of points made at the input cannot be multiplied by the input');
  if (atLayerValues && (!atLayer || injected))
    throw new GradlensError('BAD_PARAMS', "the layer's values at the points need a layer that is not injected");
  if (injected && site.modelInputs?.length !== spec.count * inputSize)
    throw new GradlensError('BAD_INPUT', `an injected layer needs the ${spec.count} model inputs (${spec.count * inputSize} values)`);
  const steps = spec.path === 'random' ? 1 : spec.path.alphas.length;
  const perInput = spec.samples * steps;
  if (spec.inputs.length !== spec.count * size)
    throw new GradlensError('BAD_INPUT', `expected ${spec.count} inputs of ${size} values, got ${spec.inputs.length} values`);
  if (options.targets.length !== spec.count) throw new GradlensError('BAD_INPUT', `${options.targets.length} targets for ${spec.count} inputs`);
  // Per-sample sums only when a square is taken of a multi-step sum (SmoothGrad² or VarGrad over IG).
  if (spec.absolute && steps > 1) throw new GradlensError('BAD_PARAMS', 'an absolute value per point needs one step per sample');
  const perSample = steps > 1 && spec.combine !== 'mean';
  const slots = spec.count * (perSample ? spec.samples : 1);
  const sumFloats = slots * gradientSize * (!perSample && spec.combine !== 'mean' ? 2 : 1);
  const pathData = spec.path === 'random' ? new Float32Array(2) : interleave(spec.path.alphas, spec.path.weights);
  const [baselineData, setCount] = 'perInput' in spec.baselines ? [spec.baselines.perInput, 1] : [spec.baselines.set, spec.baselines.setCount];
  if (spec.noise && spec.noise.length !== spec.samples * spec.count * size) {
    throw new GradlensError(
      'BAD_INPUT',
      `given noise must have samples × inputs × size = ${spec.samples * spec.count * size} values, got ${spec.noise.length}`,
    );
  }
  const params = (chunkStart: number, chunkCount: number, elements = size) => ({
    size: elements,
    chunk_start: chunkStart,
    chunk_count: chunkCount,
    samples: spec.samples,
    steps,
    seed_lo: spec.seed >>> 0,
    seed_hi: Math.floor(spec.seed / 2 ** 32) >>> 0,
    set_count: setCount,
    per_sample: Number(perSample),
    combine: COMBINE[spec.combine],
    inputs: spec.count,
  });
  // The run's kind of points and of fold are constants of the kernels (shaders/attribution/attribution.wgsl says why).
  const noise = spec.noise ? 'given' : spec.stdev.some((s) => s !== 0) ? 'drawn' : 'none';
  const points = {
    NOISE: wgslEnum('attribution', 'NOISE', noise),
    BASELINE_SET: Number('set' in spec.baselines),
    RANDOM_ALPHA: Number(spec.path === 'random'),
  };
  const multiply = prefix ? (prefix.masked ? 'positive' : 'none') : spec.multiply;
  const fold = {
    ...points,
    MULTIPLY: wgslEnum('attribution', 'MULTIPLY', multiply),
    ABSOLUTE: Number(spec.absolute ?? false),
    CONDUCTANCE: Number(spec.conductance ?? false),
  };
  const [makePoints, accumulate, finalize] = await Promise.all([
    gpu.kernels.kernel('attribution', 'attribution_points', { WORKGROUP_SIZE, ...points }),
    gpu.kernels.kernel('attribution', 'attribution_accumulate', { WORKGROUP_SIZE, ...fold }),
    gpu.kernels.kernel('attribution', 'attribution_finalize', { WORKGROUP_SIZE }),
  ]);
  const job: Job<Float32Array> = {
    label: 'attribution',
    total: spec.count * perInput,
    plans: [
      {
        objective: options.score,
        rules: options.rules ?? 'standard',
        ...(site.layer ? { layer: site.layer } : {}),
        ...(prefix ? { layer: { tensor: prefix.site } } : {}),
        ...(site.output ? { output: site.output } : {}),
      },
    ],
    group: pairsRows(options.rules),
    // Uploads, sums, result and its readback copy, the conductance carry, and each chunk's two uniform buffers (at most
    // one chunk a point, 256 bytes for both).
    bytes:
      256 * spec.count * perInput +
      4 *
        (spec.inputs.length +
          (spec.noise?.length ?? 1) +
          2 * spec.count +
          baselineData.length +
          spec.stdev.length +
          pathData.length +
          sumFloats +
          2 * spec.count * gradientSize +
          (spec.conductance ? 2 * slots * gradientSize : 1) +
          (injected ? site.modelInputs!.length : 0)),
    targets: { of: options.targets, inputOf: (p) => Math.floor(p / perInput) },
    // Within the loop budget too: attribution_accumulate walks a slot's points of the chunk, drawing noise for each.
    most: Math.max(1, Math.floor((loopBudget(gpu.device) - POINTS_ITERATIONS) / ACCUMULATE_ITERATIONS_PER_POINT)),
    async prepare(scope, _chunkSize, [plan]) {
      const shared = {
        inputs: await scope.upload('attribution inputs', spec.inputs),
        noise: await scope.upload('attribution noise', spec.noise ?? new Float32Array(1)),
        streams: await scope.upload('attribution streams', streamIds(spec.streams, spec.count)),
        baselines: await scope.upload('attribution baselines', baselineData),
        stdev: await scope.upload('attribution stdev', spec.stdev),
        path: await scope.upload('attribution path', pathData),
      };
      const [sums, result, carry] = (await scope.allocate([
        { label: 'attribution sums', size: sumFloats * 4 },
        { label: 'attribution result', size: spec.count * gradientSize * 4 },
        { label: 'attribution carry', size: spec.conductance ? 2 * slots * gradientSize * 4 : 4 },
      ])) as [GPUBuffer, GPUBuffer, GPUBuffer];
      gpu.device.queue.writeBuffer(sums, 0, new Float32Array(sumFloats));
      const gradients = atLayer || prefix ? plan!.buffers.layer?.gradient : plan!.buffers.inputGradient;
      if (!gradients)
        throw new GradlensError('BAD_PARAMS', `no gradient reaches ${site.layer ? `layer "${site.layer.tensor}"` : 'the input'} from the output`);
      const modelInputs = injected ? await scope.upload('attribution model inputs', site.modelInputs!) : undefined;
      // An injected layer's point p runs on its input's row of the model inputs (Captum's LayerIntegratedGradients).
      const inputRows = (start: number, count: number): Copy[] =>
        Array.from({ length: count }, (_, j) => ({
          source: modelInputs!,
          target: plan!.buffers.input,
          size: inputSize * 4,
          sourceOffset: Math.floor((start + j) / perInput) * inputSize * 4,
          targetOffset: j * inputSize * 4,
        }));
      const activations = atLayerValues || prefix?.masked ? plan!.buffers.layer!.value : shared.inputs; // else a placeholder the kernel does not read
      const pointsBuffer = injected ? plan!.buffers.layer!.value : plan!.buffers.input;
      // Each kernel is bound once, with the same buffers every chunk; a later chunk only rewrites its parameters (the
      // chunks before were submitted with theirs).
      const rebind = {
        points: makePoints!.rebinding(gpu.device, { ...shared, points: pointsBuffer }),
        accumulate: accumulate!.rebinding(gpu.device, { ...shared, gradients, activations, carry, sums }),
        finalize: finalize!.rebinding(gpu.device, { sums, points: result }),
      };
      const launch = (kernel: keyof typeof rebind, chunk: [number, number], count: number, iterations: number) => {
        const elements = kernel === 'points' ? size : gradientSize;
        return { bound: rebind[kernel]({ params: params(...chunk, elements) }), workgroups: gridFor(count * elements, WORKGROUP_SIZE), iterations };
      };
      return {
        points: ({ start, count }) => [...(injected ? inputRows(start, count) : []), launch('points', [start, count], count, POINTS_ITERATIONS)],
        reduce: ({ start, count }) => [launch('accumulate', [start, count], slots, count * ACCUMULATE_ITERATIONS_PER_POINT)],
        async finish(scope) {
          const finalizing = launch('finalize', [0, 0], spec.count, spec.samples + 1);
          const finalizeBatch = scope.record(new CommandBatch(gpu.device, 'attribution finalize'), [finalizing]);
          if (!prefix) {
            await finalizeBatch.submit();
            return readFloats(gpu.device, result, spec.count * gradientSize);
          }
          return prefixBackward(model, prefix, spec, result, finalizeBatch);
        },
      };
    },
  };
  const { result, ...stats } = await runJob(model, job, options);
  return { attribution: result, ...stats };
}

/**
 * The affine beginning of the model where folding the gradients there gives the same attribution: at the model's
 * input, standard rules, a plain mean of weighted gradients (no squares, absolute values or conductance), more than
 * one point per input, and a multiplier that is the same at every point of an input (x or x − b without noise).
 */
function foldsAtPrefix(model: Model, spec: PointSpec, options: EngineOptions): LinearPrefix | undefined {
  if (options.foldAtPrefix === false || options.at?.layer || options.at?.output) return undefined;
  if ((options.rules ?? 'standard') !== 'standard' || spec.combine !== 'mean' || spec.absolute || spec.conductance) return undefined;
  const steps = spec.path === 'random' ? 1 : spec.path.alphas.length;
  if (spec.samples * steps < 2) return undefined;
  const noiseless = spec.noise === undefined && spec.stdev.every((s) => s === 0);
  const samePerPoint = spec.multiply === 'none' || (noiseless && 'perInput' in spec.baselines && spec.multiply !== 'activation');
  return samePerPoint ? linearPrefix(model.graph) : undefined;
}

/**
 * After the fold at the prefix's site: the prefix's backward once per input (a plan of the model cut at its end, its
 * output gradient the folded sums), then the multiplier, which is the same for every point of an input.
 */
async function prefixBackward(model: Model, prefix: LinearPrefix, spec: PointSpec, sums: GPUBuffer, batch: CommandBatch): Promise<Float32Array> {
  // Affine: its backward reads no forward value, so the plan runs no forward.
  const plan = await model.cachedPlan({ batch: spec.count, objective: 'given', output: prefix.end, backwardOnly: true });
  model.hold(plan);
  try {
    const { outputGradient, inputGradient } = plan.buffers;
    const rows = spec.count * sizeOf(model.graph.inputShape);
    // A masked site is the Relu's output, the same size as the prefix's end.
    batch.copy(sums, outputGradient!, spec.count * prefix.size * 4, 0, 0).add(...plan.dispatches);
    await batch.submit();
    const gradient = await readFloats(model.gpu.device, inputGradient!, rows);
    if (spec.multiply === 'none') return gradient;
    const baselines = 'perInput' in spec.baselines ? spec.baselines.perInput : undefined;
    // + 0: a zero gradient times a negative multiplier is 0, as the GPU's sum of such terms is, not −0.
    for (let j = 0; j < rows; j++)
      gradient[j] = gradient[j]! * (spec.multiply === 'input' ? spec.inputs[j]! : Math.fround(spec.inputs[j]! - baselines![j]!)) + 0;
    return gradient;
  } finally {
    model.release(plan);
  }
}

function interleave(alphas: ArrayLike<number>, weights: ArrayLike<number>): Float32Array {
  if (alphas.length !== weights.length || alphas.length === 0)
    throw new GradlensError('BAD_PARAMS', 'a path needs as many weights as alphas, at least one');
  return Float32Array.from({ length: 2 * alphas.length }, (_, i) => (i % 2 === 0 ? alphas[i >> 1]! : weights[i >> 1]!));
}
