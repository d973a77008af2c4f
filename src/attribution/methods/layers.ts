/**
 * Captum's Layer* and Neuron* methods: attribution to a layer's units (the result has the layer's shape), and
 * attribution of one neuron of a layer to the input. The layer is any computed tensor or node (`layer`), or that node's
 * input (`attributeToLayerInput`).
 */
import { readFloats } from '../../gpu/buffers.ts';
import { GradlensError } from '../../gpu/errors.ts';
import { sizeOf, type Shape } from '../../graph/ir.ts';
import { camMap, camWeights } from '../../kernels/attribution/cam.ts';
import { makeBaselines } from '../baselines.ts';
import { integrate, type EngineSite, type PointSpec } from '../engine.ts';
import { layerIntegratedGradients, layerValues, resolveLayer, type Layer } from '../layer.ts';
import { BASELINE, boolean, INTEGRATION_RULE, steps } from '../options.ts';
import { streamIds } from '../philox.ts';
import { quadrature, type IntegrationRule } from '../quadrature.ts';
import { runJob } from '../runner.ts';
import { scoresOf } from '../targets.ts';
import type { Capabilities, ExplainOptions, Method, MethodContext, MethodDescription, OptionKey, OptionSpec } from '../types.ts';
import { layerJob } from './cam.ts';

const layerOf = (context: MethodContext): Layer =>
  resolveLayer(context.model.graph, context.options.layer, context.options.attributeToLayerInput ?? false);

/** Each input's baseline, in input space, from the `baseline` option. */
function baselinesOf(context: MethodContext): Float32Array {
  const streams = streamIds(context.options.streams, context.count);
  return makeBaselines(context.options.baseline!, context.inputs, context.count, context.model.graph.inputShape, context.seed, streams);
}

/** One engine run on the context's inputs, gradients taken where `at` says; the point spec's defaults are one plain point. */
async function engineAt(context: MethodContext, at: EngineSite, spec: Partial<PointSpec>, targets = context.targets) {
  return integrate(
    context.model,
    {
      inputs: context.inputs,
      count: context.count,
      baselines: { perInput: context.inputs },
      path: { alphas: [1], weights: [1] },
      samples: 1,
      stdev: new Float32Array(context.count),
      multiply: 'none',
      combine: 'mean',
      seed: context.seed,
      ...spec,
    },
    { ...context.options, targets, score: context.score, at },
  );
}

/** Σ attribution − (f(x) − f(b)) per input, f(b) at baseline inputs (Captum's compute_convergence_delta). */
async function convergenceDelta(context: MethodContext, layer: Layer, attribution: Float32Array, baselines: Float32Array): Promise<Float32Array> {
  const { logits } = await layerValues(context.model, layer, baselines, context.count, context.options);
  const start = scoresOf(logits, context.targets, sizeOf(context.model.outputShape), context.score);
  const size = attribution.length / context.count;
  return Float32Array.from({ length: context.count }, (_, i) => {
    let sum = 0;
    for (let e = 0; e < size; e++) sum += attribution[i * size + e]!;
    return sum - (context.scores[i]! - start[i]!);
  });
}

const used = (layer: Layer, extra: Record<string, unknown> = {}) => ({
  layer: layer.name,
  layerShape: [...layer.shape],
  ...(layer.site.reader ? { attributeToLayerInput: true } : {}),
  ...extra,
});

/** LayerIntegratedGradients: IG at the layer, along its values from the baselines' to the inputs' (src/attribution/layer.ts). */
const layerIg: Method = async (context) => {
  const layer = layerOf(context);
  const { steps: n, rule, baseline } = context.options as Required<ExplainOptions>;
  const run = await layerIntegratedGradients(context, layer, { inputs: baselinesOf(context) }, { steps: n, rule });
  const { delta, ...result } = run;
  return { ...result, delta, shape: layer.shape, used: used(layer, { steps: n, rule, baseline: baseline instanceof Float32Array ? 'tensor' : baseline }) };
};

/** LayerGradientXActivation: ∂f/∂y ⊙ y at the inputs. */
const layerGradientXActivation: Method = async (context) => {
  const layer = layerOf(context);
  const run = await engineAt(context, { layer: layer.site }, { multiply: 'activation' });
  return { ...run, shape: layer.shape, used: used(layer) };
};

/** InternalInfluence: Σ w_k ∂f/∂y at input-space path points (Captum: the layer gradients integrated, not multiplied). */
const internalInfluence: Method = async (context) => {
  const layer = layerOf(context);
  const { steps: n, rule } = context.options as Required<ExplainOptions>;
  const run = await engineAt(context, { layer: layer.site }, { baselines: { perInput: baselinesOf(context) }, path: quadrature(rule, n) });
  return { ...run, shape: layer.shape, used: used(layer, { steps: n, rule }) };
};

/**
 * LayerConductance (Dhamdhere 2018, as Captum): Σ_k ∂f/∂y(x_k) ⊙ (y(x_{k+1}) − y(x_k)) over the n + 1 points of the
 * rule's n + 1 nodes on the input-space path, as Captum's `alphas_func(n_steps + 1)`. `delta` is its completeness gap.
 */
const layerConductance: Method = async (context) => {
  const layer = layerOf(context);
  const { steps: n, rule } = context.options as Required<ExplainOptions>;
  const baselines = baselinesOf(context);
  const run = await engineAt(context, { layer: layer.site }, { baselines: { perInput: baselines }, path: quadrature(rule, n + 1), conductance: true });
  const delta = await convergenceDelta(context, layer, run.attribution, baselines);
  return { ...run, delta, shape: layer.shape, used: used(layer, { steps: n, rule }) };
};

/**
 * LayerGradCam (Captum): Σ_c mean(∂f/∂y_c) · y_c over the layer's first (channel) axis, the mean over the rest;
 * ReLU only when asked (Captum's relu_attributions = False). Shape [1, ...the rest], as Captum's keepdim.
 */
const layerGradCam: Method = async (context) => {
  const layer = layerOf(context);
  const { gpu } = context.model;
  const relu = context.options.relu!;
  const [channels = 1, ...rest] = layer.shape;
  const spatial = sizeOf(rest);
  const job = layerJob(context, [{ objective: context.score, layer: layer.site }], async (scope, chunkSize) => {
    const [weights, map, result] = (await scope.allocate([
      { label: 'layer grad-cam weights', size: chunkSize * channels * 4 },
      { label: 'layer grad-cam map', size: chunkSize * spatial * 4 },
      { label: 'layer grad-cam result', size: context.count * spatial * 4 },
    ])) as [GPUBuffer, GPUBuffer, GPUBuffer];
    return {
      reduce: async ([plan], start, count) => {
        const { value: activation, gradient } = plan!.buffers.layer!;
        if (!gradient) throw new GradlensError('BAD_PARAMS', `layer "${layer.name}" gets no gradient: the output does not depend on it`);
        const dims = { count, channels, spatial };
        return [
          await camWeights(gpu, { activation, gradient, weights }, { ...dims, weighting: 'grad-cam' }),
          await camMap(gpu, { activation, weights, map }, { ...dims, relu }),
          { source: map, target: result, size: count * spatial * 4, targetOffset: start * spatial * 4 },
        ];
      },
      finish: () => readFloats(gpu.device, result, context.count * spatial),
    };
  });
  const { result: attribution, ...run } = await runJob(context.model, job, context.options);
  return { attribution, ...run, points: context.count, shape: [1, ...rest], used: used(layer, { relu }) };
};

/** The neuron's flat index in its layer, from its index into the layer's per-sample shape. */
function neuronOf(context: MethodContext, shape: Shape): number {
  const index = context.options.neuron;
  const valid = index && index.length === shape.length && index.every((v, d) => Number.isInteger(v) && v >= 0 && v < shape[d]!);
  if (!valid)
    throw new GradlensError(
      'BAD_PARAMS',
      `${context.options.method} needs \`neuron\`: an index into the layer's shape [${shape.join(', ')}], got ${JSON.stringify(index ?? null)}`,
    );
  return index.reduce((flat, v, d) => flat * shape[d]! + v, 0);
}

/**
 * A neuron method: the engine with the layer's tensor as the output and the neuron as the target (its raw value is the
 * score), so NeuronGradient is the gradient of the neuron and NeuronIntegratedGradients IG of it.
 */
function neuronMethod(path: (context: MethodContext) => { spec: Partial<PointSpec>; used: Record<string, unknown> }): Method {
  return async (context) => {
    const layer = layerOf(context);
    const neuron = neuronOf(context, layer.shape);
    const { spec, used: own } = path(context);
    const neuronContext = { ...context, score: 'logit' as const };
    const run = await engineAt(neuronContext, { output: layer.site.tensor }, spec, new Int32Array(context.count).fill(neuron));
    return { ...run, used: used(layer, { neuron: [...context.options.neuron!], ...own }) };
  };
}

const integratedPath = (rule: IntegrationRule | undefined) => (context: MethodContext) => {
  const n = context.options.steps!;
  return {
    spec: { baselines: { perInput: baselinesOf(context) }, path: quadrature(rule ?? context.options.rule!, n), multiply: 'input-minus-baseline' as const },
    used: { steps: n, rule: rule ?? context.options.rule },
  };
};

const LAYER: Capabilities = { layer: true, layerShaped: true, delta: false, timesInput: false, random: false, tunnel: 'calls' };
const NEURON: Capabilities = { ...LAYER, layerShaped: false };
const LAYER_OPTIONS = {
  layer: { kind: 'tensor-name', doc: 'the layer: a node, or a tensor, of the model (required)' },
  attributeToLayerInput: boolean("attribute to the layer node's input, as that node reads it (Captum's attribute_to_layer_input)", false),
} satisfies Partial<Record<OptionKey, OptionSpec>>;
const NEURON_OPTIONS = {
  ...LAYER_OPTIONS,
  neuron: { kind: 'index', doc: "the neuron: an index into the layer's per-sample shape (required)" },
} satisfies Partial<Record<OptionKey, OptionSpec>>;
const PATH_OPTIONS = { steps: steps(50, "Captum's n_steps"), rule: INTEGRATION_RULE, baseline: BASELINE } satisfies Partial<Record<OptionKey, OptionSpec>>;

export const layerMethods: readonly MethodDescription[] = [
  {
    id: 'layer-integrated-gradients',
    summary: "Layer integrated gradients (Captum): IG along the layer's values from the baseline's to the input's",
    run: layerIg,
    options: { ...LAYER_OPTIONS, ...PATH_OPTIONS },
    capabilities: { ...LAYER, delta: true, timesInput: true },
    captum: 'LayerIntegratedGradients',
  },
  {
    id: 'layer-gradient-x-activation',
    summary: "Layer gradient × activation: a layer's gradient times its value",
    run: layerGradientXActivation,
    options: LAYER_OPTIONS,
    capabilities: { ...LAYER, timesInput: true },
    captum: 'LayerGradientXActivation',
  },
  {
    id: 'layer-grad-cam',
    summary: "Layer Grad-CAM (Captum): any layer's Grad-CAM map in the layer's shape, ReLU off by default",
    run: layerGradCam,
    options: { ...LAYER_OPTIONS, relu: boolean("ReLU on the map (Captum's relu_attributions)", false) },
    capabilities: LAYER,
    captum: 'LayerGradCam',
  },
  {
    id: 'layer-conductance',
    summary: "Layer conductance (Dhamdhere 2018): the flow of the input path's IG through each unit of a layer",
    run: layerConductance,
    options: { ...LAYER_OPTIONS, ...PATH_OPTIONS },
    capabilities: { ...LAYER, delta: true, timesInput: true },
    captum: 'LayerConductance',
  },
  {
    id: 'internal-influence',
    summary: "Internal influence (Leino 2018): a layer's gradients integrated along the input path",
    run: internalInfluence,
    options: { ...LAYER_OPTIONS, ...PATH_OPTIONS },
    capabilities: LAYER,
    captum: 'InternalInfluence',
  },
  {
    id: 'neuron-gradient',
    summary: "Neuron gradient: the gradient of one neuron of a layer with respect to the input",
    run: neuronMethod(() => ({ spec: {}, used: {} })),
    options: NEURON_OPTIONS,
    capabilities: NEURON,
    captum: 'NeuronGradient',
  },
  {
    id: 'neuron-integrated-gradients',
    summary: "Neuron integrated gradients: integrated gradients of one neuron of a layer",
    run: neuronMethod(integratedPath(undefined)),
    options: { ...NEURON_OPTIONS, ...PATH_OPTIONS },
    capabilities: { ...NEURON, timesInput: true },
    captum: 'NeuronIntegratedGradients',
  },
];


