/** The layer methods: Grad-CAM and its variants (one job over a feature map) and FullGrad (bias-gradient terms). */
import { readFloats } from '../../gpu/buffers.ts';
import type { Dispatch } from '../../gpu/commands.ts';
import { GradlensError } from '../../gpu/errors.ts';
import { attribute, sizeOf, type Graph, type Shape } from '../../graph/ir.ts';
import type { Model } from '../../graph/model.ts';
import type { Plan, PlanOptions } from '../../graph/plan.ts';
import { inferShapes } from '../../graph/shapes.ts';
import { camExpand, camMap, camWeights, fullGradAccumulate, fullGradMap, fullGradStatistics } from '../../kernels/attribution/cam.ts';
import { batchNormToAffine } from '../../kernels/channel.ts';
import { resizeForward, type ResizeDims } from '../../kernels/resize.ts';
import { runJob, type Job, type Scope, type Step } from '../runner.ts';
import { boolean, choice } from '../options.ts';
import type { ExplainOptions, Method, MethodContext, OptionKey, OptionSpec } from '../types.ts';

type Interpolation = Pick<ResizeDims, 'mode' | 'coordinateTransformationMode' | 'nearestMode'>;
const INTERPOLATION: Record<'bilinear' | 'nearest' | 'align-corners', Interpolation> = {
  bilinear: { mode: 'linear', coordinateTransformationMode: 'half_pixel' },
  nearest: { mode: 'nearest', coordinateTransformationMode: 'asymmetric', nearestMode: 'floor' },
  'align-corners': { mode: 'linear', coordinateTransformationMode: 'align_corners' },
};

const MAX_CHUNK = 65535;

/** Resizing `count` one-channel maps of [h, w] to the input's [H, W]. */
const mapResize = (count: number, [inHeight, inWidth]: number[], [outHeight, outWidth]: number[], mode: keyof typeof INTERPOLATION): ResizeDims => ({
  batch: count,
  channels: 1,
  inHeight: inHeight!,
  inWidth: inWidth!,
  outHeight: outHeight!,
  outWidth: outWidth!,
  ...INTERPOLATION[mode],
});

/** Ops that keep a feature map what it is for Grad-CAM's default layer: same shape, position by position. */
const ELEMENTWISE = new Set([
  'Relu',
  'LeakyRelu',
  'Clip',
  'Sigmoid',
  'Tanh',
  'Gelu',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'BatchNormalization',
  'Identity',
  'Dropout',
]);

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
  if (input.length !== 3)
    throw new GradlensError('BAD_PARAMS', `${context.options.method} needs an image input [C, H, W]; ${graph.name} takes [${input.join(', ')}]`);
  const layer = context.options.layer ?? defaultLayer(graph, shapes);
  const shape = shapes.get(layer);
  if (!shape || graph.constants.has(layer))
    throw new GradlensError('BAD_PARAMS', `layer "${layer}" is not a tensor of ${graph.name}; ${candidates(graph, shapes)}`);
  if (shape.length !== 4)
    throw new GradlensError(
      'BAD_PARAMS',
      `layer "${layer}" has shape [${shape.slice(1).join(', ')}], not a feature map [C, h, w]; ${candidates(graph, shapes)}`,
    );
  return { layer, shape: shape.slice(1), input };
}

/**
 * A layer method's job on the runner: one point per input, through `plans`; the generator writes the chunk's inputs
 * into every plan, the reducer is the method's kernels; at most 65535 inputs a chunk (FullGrad's statistics run one
 * workgroup per input).
 */
export function layerJob<R>(
  context: MethodContext,
  plans: readonly Omit<PlanOptions, 'batch'>[],
  prepare: (
    scope: Scope,
    chunkSize: number,
  ) => Promise<{
    reduce: (plans: readonly Plan[], start: number, count: number) => Promise<Step[]>;
    finish: () => Promise<R>;
  }>,
): Job<R> {
  const { queue } = context.model.gpu.device;
  return {
    label: context.options.method,
    total: context.count,
    plans,
    targets: { of: context.targets, inputOf: (p) => p },
    most: MAX_CHUNK,
    async prepare(scope, chunkSize) {
      const pass = await prepare(scope, chunkSize);
      return {
        points: ({ start, count, plans: made }) => {
          const input = context.inputs.subarray(start * context.size, (start + count) * context.size);
          for (const plan of made) queue.writeBuffer(plan.buffers.input, 0, input.buffer, input.byteOffset, input.byteLength);
          return [];
        },
        reduce: ({ start, count, plans: made }) => pass.reduce(made, start, count),
        finish: pass.finish,
      };
    },
  };
}

/**
 * Grad-CAM (Selvaraju 2017), Grad-CAM++ (Chattopadhay 2018) and Guided Grad-CAM: the map from the layer's activations
 * and gradients, upsampled to the input and broadcast over its channels (times guided backprop for the guided form).
 */
export function gradCam(weighting: 'grad-cam' | 'grad-cam-plus-plus', guided: boolean): Method {
  return async (context) => {
    const { gpu } = context.model;
    const { layer, shape, input } = resolveLayer(context);
    const { relu, upsample } = context.options as Required<ExplainOptions>;
    const [channels, height, width] = shape as [number, number, number];
    const [inputChannels, inputHeight, inputWidth] = input as [number, number, number];
    const plans: Omit<PlanOptions, 'batch'>[] = [{ objective: context.score, rules: 'standard', capture: [layer] }];
    if (guided) plans.push({ objective: context.score, rules: 'guided-backprop' });
    const { result: attribution, ...run } = await runJob(
      context.model,
      layerJob(context, plans, async (scope, chunkSize) => {
        const [weights, map, upsampled, result] = (await scope.allocate([
          { label: 'cam weights', size: chunkSize * channels * 4 },
          { label: 'cam map', size: chunkSize * height * width * 4 },
          { label: 'cam upsampled', size: chunkSize * inputHeight * inputWidth * 4 },
          { label: 'cam result', size: context.count * context.size * 4 },
        ])) as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
        return {
          reduce: async ([plan, guidedPlan], start, count) => {
            const activation = plan!.buffers.activations.get(layer)!;
            const gradient = plan!.buffers.gradients.get(layer);
            if (!gradient)
              throw new GradlensError('BAD_PARAMS', `layer "${layer}" gets no gradient: it is not on a path from the input to the output`);
            const layerDims = { count, channels, spatial: height * width };
            const resize = mapResize(count, [height, width], [inputHeight, inputWidth], upsample);
            const guide = guidedPlan ? { guided: guidedPlan.buffers.inputGradient! } : {};
            return [
              await camWeights(gpu, { activation, gradient, weights }, { ...layerDims, weighting }),
              await camMap(gpu, { activation, weights, map }, { ...layerDims, relu }),
              await resizeForward(gpu, { x: map, y: upsampled }, resize),
              await camExpand(
                gpu,
                { upsampled, result, ...guide },
                { count, channels: inputChannels, spatial: inputHeight * inputWidth, first: start },
              ),
            ];
          },
          finish: () => readFloats(gpu.device, result, context.count * context.size),
        };
      }),
      context.options,
    );
    return { attribution, ...run, points: context.count * plans.length, used: { layer, layerShape: [...shape], relu, upsample } };
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
        throw new GradlensError(
          'UNSUPPORTED_OP',
          `fullgrad: ${node.op} "${node.name}" has a bias of ${data.length} values for ${channels} channels; only a per-channel or scalar bias is supported`,
        );
      }
      return [{ tensor, shape, bias: Float32Array.from({ length: channels }, (_, c) => beta * data[data.length === 1 ? 0 : c]!) }];
    }
    if (node.op === 'BatchNormalization' && node.inputs.slice(1).every((name) => constant(name))) {
      const [gamma, beta, mean, variance] = node.inputs.slice(1).map((name) => constant(name)!) as [
        Float32Array,
        Float32Array,
        Float32Array,
        Float32Array,
      ];
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
export const fullGrad: Method = async (context) => {
  const { gpu, graph } = context.model;
  const shapes = inferShapes(graph, 1);
  const layers = biasLayers(graph, shapes);
  const image = graph.inputShape.length === 3;
  const [inputChannels, inputHeight, inputWidth] = image ? (graph.inputShape as [number, number, number]) : [1, 1, context.size];
  const inputSpatial = inputHeight * inputWidth;
  const mapped = (layer: BiasLayer) => image && layer.shape.length === 3;
  const terms = layers.length + 1;
  const plans: Omit<PlanOptions, 'batch'>[] = [{ objective: context.score, rules: 'standard', capture: layers.map((layer) => layer.tensor) }];
  const largestMap = Math.max(inputSpatial, ...layers.filter(mapped).map((layer) => layer.shape[1]! * layer.shape[2]!));
  const job = layerJob(context, plans, async (scope, chunkSize) => {
    const [statistics, map, upsampled, total, result] = (await scope.allocate([
      { label: 'fullgrad statistics', size: context.count * terms * 16 },
      { label: 'fullgrad map', size: chunkSize * largestMap * 4 },
      { label: 'fullgrad upsampled', size: chunkSize * inputSpatial * 4 },
      { label: 'fullgrad total', size: chunkSize * inputSpatial * 4 },
      { label: 'fullgrad result', size: context.count * context.size * 4 },
    ])) as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
    const biases = await Promise.all(layers.map((layer) => scope.upload(`fullgrad bias ${layer.tensor}`, layer.bias)));
    return {
      reduce: async ([plan], start, count) => {
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
          const resize = mapResize(count, [height, width], [inputHeight, inputWidth], 'align-corners');
          dispatches.push(
            await fullGradMap(gpu, { ...io, map }, term),
            await resizeForward(gpu, { x: map, y: upsampled }, resize),
            await fullGradAccumulate(gpu, { upsampled, total }, { count, spatial: inputSpatial, accumulate: true }),
          );
        }
        dispatches.push(await camExpand(gpu, { upsampled: total, result }, { count, channels: inputChannels, spatial: inputSpatial, first: start }));
        return dispatches;
      },
      finish: async () => ({
        attribution: await readFloats(gpu.device, result, context.count * context.size),
        sums: await readFloats(gpu.device, statistics, context.count * terms * 4),
      }),
    };
  });
  const { result, ...run } = await runJob(context.model, job, context.options);
  const delta = Float32Array.from({ length: context.count }, (_, n) => {
    let sum = 0;
    for (let t = 0; t < terms; t++) sum += result.sums[(n * terms + t) * 4 + 2]!;
    return sum - context.scores[n]!;
  });
  return { attribution: result.attribution, delta, ...run, points: context.count, used: { biasLayers: layers.map((layer) => layer.tensor) } };
};

export const LAYER = { layer: true, delta: false, timesInput: false, random: false, tunnel: 'calls' } as const;
export const layerOptions = (upsample: 'bilinear' | 'nearest', source: string) =>
  ({
    layer: {
      kind: 'tensor-name',
      doc: "the NCHW tensor the map is made at (default: the last Conv's output, through what element-wise follows it)",
    },
    relu: boolean('ReLU on Σ α_k A^k (the paper, pytorch-grad-cam; Captum LayerGradCam defaults to false)', true),
    upsample: choice(`how the layer map is resized to the input (${source})`, ['bilinear', 'nearest'], upsample),
  }) satisfies Partial<Record<OptionKey, OptionSpec>>;
