import { allocate, readFloats, upload } from '../../gpu/buffers.ts';
import { CommandBatch, type Dispatch } from '../../gpu/commands.ts';
import { GradlensError } from '../../gpu/errors.ts';
import { attribute, sizeOf, type Graph, type Shape } from '../../graph/ir.ts';
import type { Model } from '../../graph/model.ts';
import type { Plan, PlanOptions } from '../../graph/plan.ts';
import { inferShapes } from '../../graph/shapes.ts';
import { camExpand, camMap, camWeights, fullGradAccumulate, fullGradMap, fullGradStatistics } from '../../kernels/attribution/cam.ts';
import { batchNormToAffine } from '../../kernels/channel.ts';
import { resizeForward, type ResizeDims } from '../../kernels/resize.ts';
import type { MethodContext, MethodResult } from '../explain.ts';
import type { Method } from '../methods.ts';

/** Options of the layer methods (Grad-CAM family, FullGrad). */
export interface CamOptions {
  /**
   * Grad-CAM family: the NCHW tensor whose activations A and gradients ∂f/∂A make the map, named as the model's graph
   * names it after BatchNorm folding (a Conv followed by a BatchNormalization outputs the BatchNorm's tensor name).
   * Default: the last Conv's output, followed forward through element-wise ops that keep its shape while it has one
   * reader: so the Relu after the last Conv, or a residual block's Add → Relu (pytorch-grad-cam's usual target, the
   * last block's output); the Conv's own output when nothing element-wise follows. `used.layer` reports the choice.
   */
  layer?: string;
  /**
   * Grad-CAM family: ReLU on Σ_k α_k A^k. Default true, as the paper (Selvaraju 2017, Eq. 2), pytorch-grad-cam and
   * Captum's GuidedGradCam; Captum's LayerGradCam defaults to false (`relu_attributions`).
   */
  relu?: boolean;
  /**
   * Grad-CAM family: how the layer map is resized to the input. 'bilinear' is ONNX half_pixel (PyTorch
   * align_corners=False, Captum's LayerAttribution.interpolate), the default of grad-cam and grad-cam-plus-plus;
   * 'nearest' is PyTorch's rule (source index ⌊o·in/out⌋), the default of guided-grad-cam as in Captum's GuidedGradCam.
   */
  upsample?: 'bilinear' | 'nearest';
}

type Interpolation = Pick<ResizeDims, 'mode' | 'coordinateTransformationMode' | 'nearestMode'>;
const INTERPOLATION: Record<'bilinear' | 'nearest' | 'align-corners', Interpolation> = {
  bilinear: { mode: 'linear', coordinateTransformationMode: 'half_pixel' },
  nearest: { mode: 'nearest', coordinateTransformationMode: 'asymmetric', nearestMode: 'floor' },
  'align-corners': { mode: 'linear', coordinateTransformationMode: 'align_corners' },
};

const DEFAULT_BUDGET = 256 * 2 ** 20;
const MAX_CHUNK = 65535;

/** Ops that keep a feature map what it is for Grad-CAM's default layer: same shape, position by position. */
const ELEMENTWISE = new Set(['Relu', 'LeakyRelu', 'Clip', 'Sigmoid', 'Tanh', 'Gelu', 'Add', 'Sub', 'Mul', 'Div', 'BatchNormalization', 'Identity', 'Dropout']);

const sameShape = (a: Shape | undefined, b: Shape | undefined) => !!a && !!b && a.length === b.length && a.every((d, i) => d === b[i]);

/** NCHW tensors a layer method can use, in graph order: every node output of rank 4. */
function featureMaps(graph: Graph, shapes: ReadonlyMap<string, Shape>): string[] {
  return graph.nodes.flatMap((node) => node.outputs.filter((name) => shapes.get(name)?.length === 4));
}

function defaultLayer(graph: Graph, shapes: ReadonlyMap<string, Shape>): string {
  const last = graph.nodes.filter((node) => node.op === 'Conv').at(-1);
  if (!last) throw new GradlensError('BAD_PARAMS', `${graph.name} has no Conv: give \`layer\`, a 4-D tensor (${candidates(graph, shapes)})`);
  let tensor = last.outputs[0]!;
  for (;;) {
    const readers = graph.nodes.filter((node) => node.inputs.includes(tensor));
    const next = readers[0];
    if (readers.length !== 1 || !ELEMENTWISE.has(next!.op) || !sameShape(shapes.get(next!.outputs[0]!), shapes.get(tensor))) return tensor;
    tensor = next!.outputs[0]!;
  }
}

function candidates(graph: Graph, shapes: ReadonlyMap<string, Shape>): string {
  const maps = featureMaps(graph, shapes);
  const shown = maps.slice(-30).map((name) => `"${name}" [${shapes.get(name)!.slice(1).join('×')}]`);
  return maps.length === 0 ? 'the graph has none' : `candidates: ${maps.length > 30 ? `… ${maps.length - 30} more, ` : ''}${shown.join(', ')}`;
}

/** The layer to explain at: given or default, checked to be an NCHW tensor of the graph. */
function resolveLayer(context: MethodContext): { layer: string; shape: Shape; input: Shape } {
  const { graph } = context.model;
  const shapes = inferShapes(graph, 1);
  const input = graph.inputShape;
  if (input.length !== 3) throw new GradlensError('BAD_PARAMS', `${context.options.method} needs an image input [C, H, W]; ${graph.name} takes [${input.join(', ')}]`);
  const layer = context.options.layer ?? defaultLayer(graph, shapes);
  const shape = shapes.get(layer);
  if (!shape || graph.constants.has(layer)) throw new GradlensError('BAD_PARAMS', `layer "${layer}" is not a tensor of ${graph.name}; ${candidates(graph, shapes)}`);
  if (shape.length !== 4) throw new GradlensError('BAD_PARAMS', `layer "${layer}" has shape [${shape.slice(1).join(', ')}], not a feature map [C, h, w]; ${candidates(graph, shapes)}`);
  return { layer, shape: shape.slice(1), input };
}

/**
 * Inputs per chunk: what the memory budget allows for the plans (a batch-1 plan's buffers × batch), at most `count`,
 * and at most 65535 (FullGrad's statistics run one workgroup per input).
 */
async function chunkSizeFor(context: MethodContext, plans: readonly Omit<PlanOptions, 'batch'>[]): Promise<number> {
  if (context.options.chunkSize) return Math.max(1, Math.min(context.count, context.options.chunkSize, MAX_CHUNK));
  const { model } = context;
  let perInput = 0;
  let largest = 4;
  for (const options of plans) {
    const probe = await model.cachedPlan({ ...options, batch: 1 });
    perInput += Math.max(probe.slotBytes, 1);
    for (const [name, shape] of probe.shapes) if (!model.graph.constants.has(name)) largest = Math.max(largest, sizeOf(shape) * 4);
  }
  const byBinding = Math.floor(model.gpu.device.limits.maxStorageBufferBindingSize / largest);
  return Math.max(1, Math.min(context.count, Math.floor((context.options.memoryBudget ?? DEFAULT_BUDGET) / perInput), byBinding, MAX_CHUNK));
}

/** Writes a chunk's inputs and targets into a plan (rows past `count` keep what they held and are never read). */
function writeChunk(context: MethodContext, plan: Plan, start: number, count: number): void {
  const { queue } = context.model.gpu.device;
  const input = context.inputs.subarray(start * context.size, (start + count) * context.size);
  queue.writeBuffer(plan.buffers.input, 0, input.buffer, input.byteOffset, input.byteLength);
  const targets = new Int32Array(plan.batch);
  targets.set(context.targets.subarray(start, start + count));
  queue.writeBuffer(plan.buffers.target!, 0, targets);
}

/**
 * Runs the inputs in chunks: each chunk's plans (forward, seed, backward) and then `after`'s kernels in one command
 * buffer; results stay on the GPU until the caller reads them once.
 */
async function inChunks(
  context: MethodContext,
  plans: readonly Omit<PlanOptions, 'batch'>[],
  chunkSize: number,
  after: (plans: Plan[], start: number, count: number) => Promise<Dispatch[]>,
): Promise<{ chunks: number; chunkSize: number }> {
  const made = await Promise.all(plans.map((options) => context.model.cachedPlan({ ...options, batch: chunkSize })));
  let chunks = 0;
  for (let start = 0; start < context.count; start += chunkSize) {
    context.options.signal?.throwIfAborted();
    const count = Math.min(chunkSize, context.count - start);
    made.forEach((plan) => writeChunk(context, plan, start, count));
    const batch = new CommandBatch(context.model.gpu.device, `${context.options.method} chunk ${chunks}`);
    made.forEach((plan) => batch.add(...plan.dispatches));
    await batch.add(...(await after(made, start, count))).submit();
    chunks++;
    if (context.options.onProgress) {
      await context.model.gpu.device.queue.onSubmittedWorkDone();
      context.options.onProgress({ done: start + count, total: context.count });
    }
  }
  return { chunks, chunkSize };
}

/**
 * Grad-CAM (Selvaraju 2017), Grad-CAM++ (Chattopadhay 2018) and Guided Grad-CAM: the map from the layer's activations
 * and gradients, upsampled to the input and broadcast over its channels (times guided backprop for the guided form).
 */
function gradCam(weighting: 'grad-cam' | 'grad-cam-plus-plus', guided: boolean): Method {
  return async (context) => {
    const { gpu } = context.model;
    const { layer, shape, input } = resolveLayer(context);
    const relu = context.options.relu ?? true;
    const upsample = context.options.upsample ?? (guided ? 'nearest' : 'bilinear');
    const [channels, height, width] = shape as [number, number, number];
    const [inputChannels, inputHeight, inputWidth] = input as [number, number, number];
    const plans: Omit<PlanOptions, 'batch'>[] = [{ seed: context.score, rules: 'standard', capture: [layer] }];
    if (guided) plans.push({ seed: context.score, rules: 'guided-backprop' });
    const chunkSize = await chunkSizeFor(context, plans);
    const owned = await allocate(gpu.device, [
      { label: 'cam weights', size: chunkSize * channels * 4 },
      { label: 'cam map', size: chunkSize * height * width * 4 },
      { label: 'cam upsampled', size: chunkSize * inputHeight * inputWidth * 4 },
      { label: 'cam result', size: context.count * context.size * 4 },
    ]);
    const [weights, map, upsampled, result] = owned as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
    try {
      const run = await inChunks(context, plans, chunkSize, async ([plan, guidedPlan], start, count) => {
        const activation = plan!.buffers.activations.get(layer)!;
        const gradient = plan!.buffers.gradients.get(layer);
        if (!gradient) throw new GradlensError('BAD_PARAMS', `layer "${layer}" gets no gradient: it is not on a path from the input to the output`);
        const layerDims = { count, channels, spatial: height * width };
        const resize = { batch: count, channels: 1, inHeight: height, inWidth: width, outHeight: inputHeight, outWidth: inputWidth, ...INTERPOLATION[upsample] };
        return [
          await camWeights(gpu, { activation, gradient, weights }, { ...layerDims, weighting }),
          await camMap(gpu, { activation, weights, map }, { ...layerDims, relu }),
          await resizeForward(gpu, { x: map, y: upsampled }, resize),
          await camExpand(gpu, { upsampled, result, ...(guidedPlan ? { guided: guidedPlan.buffers.inputGradient! } : {}) }, { count, channels: inputChannels, spatial: inputHeight * inputWidth, first: start }),
        ];
      });
      const attribution = await readFloats(gpu.device, result, context.count * context.size);
      return { attribution, points: context.count * plans.length, ...run, used: { layer, layerShape: [...shape], relu, upsample } };
    } finally {
      owned.forEach((buffer) => buffer.destroy());
    }
  };
}

/** A layer with a bias: the tensor its bias is added to (pre-activation) and the bias per channel (per unit for Gemm). */
interface BiasLayer {
  tensor: string;
  bias: Float32Array;
  shape: Shape;
}

/**
 * Every bias of the graph after BatchNorm folding: Conv and Gemm bias inputs (a folded BatchNorm's shift included) and
 * the shift β − μγ/√(σ² + ε) of a BatchNormalization left unfolded. (An Add of a constant is not counted.)
 */
function biasLayers(graph: Graph, shapes: ReadonlyMap<string, Shape>): BiasLayer[] {
  const constant = (name: string | undefined) => (name ? graph.constants.get(name)?.data : undefined);
  return graph.nodes.flatMap((node): BiasLayer[] => {
    const tensor = node.outputs[0]!;
    const shape = shapes.get(tensor)!.slice(1);
    const channels = shape[0] ?? 1;
    if ((node.op === 'Conv' || node.op === 'Gemm') && constant(node.inputs[2])) {
      const data = constant(node.inputs[2])!;
      const beta = node.op === 'Gemm' ? attribute<number>(node, 'beta', 1) : 1;
      if (data.length !== channels && data.length !== 1) {
        throw new GradlensError('UNSUPPORTED_OP', `fullgrad: ${node.op} "${node.name}" has a bias of ${data.length} values for ${channels} channels; only a per-channel or scalar bias is supported`);
      }
      return [{ tensor, shape, bias: Float32Array.from({ length: channels }, (_, c) => beta * data[data.length === 1 ? 0 : c]!) }];
    }
    if (node.op === 'BatchNormalization' && node.inputs.slice(1).every((name) => constant(name))) {
      const [gamma, beta, mean, variance] = node.inputs.slice(1).map((name) => constant(name)!) as [Float32Array, Float32Array, Float32Array, Float32Array];
      return [{ tensor, shape, bias: batchNormToAffine(gamma, beta, mean, variance, attribute(node, 'epsilon', 1e-5)).shift }];
    }
    return [];
  });
}

/**
 * FullGrad (Srinivas 2019), as its reference implementation (idiap/fullgrad-saliency): ψ(∇x f ⊙ x) summed over input
 * channels, plus for every bias layer with a feature map ψ(∂f/∂z ⊙ b) summed over channels, bilinearly upsampled
 * (align_corners=True, as the reference); ψ = abs, then min-max normalised over the sample's whole term. Bias layers
 * without a feature map (Gemm) enter only the completeness check; an input that is not an image [C, H, W] gets
 * ψ(∇x f ⊙ x) alone, per element. The map is broadcast over the input channels. `delta` is the completeness residual
 * of the raw decomposition, ∇x f · x + Σ_layers Σ ∂f/∂z ⊙ b − f(x) (Eq. 2): zero for piecewise-linear nets scored by logit.
 */
const fullGrad: Method = async (context) => {
  const { gpu, graph } = context.model;
  const shapes = inferShapes(graph, 1);
  const layers = biasLayers(graph, shapes);
  const image = graph.inputShape.length === 3;
  const [inputChannels, inputHeight, inputWidth] = image ? (graph.inputShape as [number, number, number]) : [1, 1, context.size];
  const inputSpatial = inputHeight * inputWidth;
  const mapped = (layer: BiasLayer) => image && layer.shape.length === 3;
  const terms = layers.length + 1;
  const plans: Omit<PlanOptions, 'batch'>[] = [{ seed: context.score, rules: 'standard', capture: layers.map((layer) => layer.tensor) }];
  const chunkSize = await chunkSizeFor(context, plans);
  const largestMap = Math.max(inputSpatial, ...layers.filter(mapped).map((layer) => layer.shape[1]! * layer.shape[2]!));
  const owned = [
    ...(await allocate(gpu.device, [
      { label: 'fullgrad statistics', size: context.count * terms * 16 },
      { label: 'fullgrad map', size: chunkSize * largestMap * 4 },
      { label: 'fullgrad upsampled', size: chunkSize * inputSpatial * 4 },
      { label: 'fullgrad total', size: chunkSize * inputSpatial * 4 },
      { label: 'fullgrad result', size: context.count * context.size * 4 },
    ])),
    ...(await Promise.all(layers.map((layer) => upload(gpu.device, `fullgrad bias ${layer.tensor}`, layer.bias)))),
  ];
  const [statistics, map, upsampled, total, result, ...biases] = owned as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, ...GPUBuffer[]];
  try {
    const run = await inChunks(context, plans, chunkSize, async ([plan], start, count) => {
      const slot = { first: start, terms };
      const inputTerm = { count, channels: inputChannels, spatial: inputSpatial, ...slot, slot: 0, factor: 'element' as const };
      const inputIo = { gradient: plan!.buffers.inputGradient!, factor: plan!.buffers.input, statistics };
      const dispatches = [
        await fullGradStatistics(gpu, inputIo, inputTerm),
        await fullGradMap(gpu, { ...inputIo, map }, inputTerm),
        await fullGradAccumulate(gpu, { upsampled: map, total }, { count, spatial: inputSpatial, accumulate: false }),
      ];
      for (const [l, layer] of layers.entries()) {
        const gradient = plan!.buffers.gradients.get(layer.tensor);
        if (!gradient) continue; // a bias the input cannot reach: its term is constant and ∂f/∂b is zero
        const [channels, height = 1, width = 1] = layer.shape;
        const term = { count, channels: channels!, spatial: height * width, ...slot, slot: l + 1, factor: 'channel' as const };
        const io = { gradient, factor: biases[l]!, statistics };
        dispatches.push(await fullGradStatistics(gpu, io, term));
        if (!mapped(layer)) continue;
        const resize = { batch: count, channels: 1, inHeight: height, inWidth: width, outHeight: inputHeight, outWidth: inputWidth, ...INTERPOLATION['align-corners'] };
        dispatches.push(
          await fullGradMap(gpu, { ...io, map }, term),
          await resizeForward(gpu, { x: map, y: upsampled }, resize),
          await fullGradAccumulate(gpu, { upsampled, total }, { count, spatial: inputSpatial, accumulate: true }),
        );
      }
      dispatches.push(await camExpand(gpu, { upsampled: total, result }, { count, channels: inputChannels, spatial: inputSpatial, first: start }));
      return dispatches;
    });
    const attribution = await readFloats(gpu.device, result, context.count * context.size);
    const sums = await readFloats(gpu.device, statistics, context.count * terms * 4);
    const delta = Float32Array.from({ length: context.count }, (_, n) => {
      let sum = 0;
      for (let t = 0; t < terms; t++) sum += sums[(n * terms + t) * 4 + 2]!;
      return sum - context.scores[n]!;
    });
    return { attribution, delta, points: context.count, ...run, used: { biasLayers: layers.map((layer) => layer.tensor) } };
  } finally {
    owned.forEach((buffer) => buffer.destroy());
  }
};

export const camMethods = {
  'grad-cam': gradCam('grad-cam', false),
  'grad-cam-plus-plus': gradCam('grad-cam-plus-plus', false),
  'guided-grad-cam': gradCam('grad-cam', true),
  fullgrad: fullGrad,
} satisfies Record<string, Method>;
