/**
 * What Captum's Layer* and Neuron* methods share (src/attribution/methods/layer-*.ts, neuron-*.ts, internal-influence.ts):
 * the layer from the options, the engine run at it, the convergence delta, the record of what was used, the neuron.
 * The layer is any computed tensor or node (`layer`), or that node's input (`attributeToLayerInput`).
 */
import { GradlensError } from '../../gpu/errors.ts';
import { sizeOf, type Shape } from '../../graph/ir.ts';
import { makeBaselines } from '../baselines.ts';
import { integrate, type EngineSite, type PointSpec } from '../engine.ts';
import { layerValues, resolveLayer, type Layer } from '../layer.ts';
import { BASELINE, boolean, INTEGRATION_RULE, steps } from '../options.ts';
import { streamIds } from '../philox.ts';
import { quadrature, type IntegrationRule } from '../quadrature.ts';
import { scoresOf } from '../targets.ts';
import type { Capabilities, Method, MethodContext, OptionKey, OptionSpec } from '../types.ts';

export const layerOf = (context: MethodContext): Layer =>
  resolveLayer(context.model.graph, context.options.layer, context.options.attributeToLayerInput ?? false);

/** Each input's baseline, in input space, from the `baseline` option. */
export function baselinesOf(context: MethodContext): Float32Array {
  const streams = streamIds(context.options.streams, context.count);
  return makeBaselines(context.options.baseline!, context.inputs, context.count, context.model.graph.inputShape, context.seed, streams);
}

/** One engine run on the context's inputs, gradients taken where `at` says; the point spec's defaults are one plain point. */
export async function engineAt(context: MethodContext, at: EngineSite, spec: Partial<PointSpec>, targets = context.targets) {
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
export async function layerDelta(context: MethodContext, layer: Layer, attribution: Float32Array, baselines: Float32Array): Promise<Float32Array> {
  const { logits } = await layerValues(context.model, layer, baselines, context.count, context.options);
  const start = scoresOf(logits, context.targets, sizeOf(context.model.outputShape), context.score);
  const size = attribution.length / context.count;
  return Float32Array.from({ length: context.count }, (_, i) => {
    let sum = 0;
    for (let e = 0; e < size; e++) sum += attribution[i * size + e]!;
    return sum - (context.scores[i]! - start[i]!);
  });
}

export const used = (layer: Layer, extra: Record<string, unknown> = {}) => ({
  layer: layer.name,
  layerShape: [...layer.shape],
  ...(layer.replaced.reader ? { attributeToLayerInput: true } : {}),
  ...extra,
});

/** The neuron's flat index in its layer, from its index into the layer's per-sample shape. */
export function neuronOf(context: MethodContext, shape: Shape): number {
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
export function neuronMethod(path: (context: MethodContext) => { spec: Partial<PointSpec>; used: Record<string, unknown> }): Method {
  return async (context) => {
    const layer = layerOf(context);
    const neuron = neuronOf(context, layer.shape);
    const { spec, used: own } = path(context);
    const neuronContext = { ...context, score: 'logit' as const };
    const run = await engineAt(neuronContext, { output: layer.site.tensor }, spec, new Int32Array(context.count).fill(neuron));
    return { ...run, used: used(layer, { neuron: [...context.options.neuron!], ...own }) };
  };
}

export const integratedPath = (rule: IntegrationRule | undefined) => (context: MethodContext) => {
  const n = context.options.steps!;
  return {
    spec: {
      baselines: { perInput: baselinesOf(context) },
      path: quadrature(rule ?? context.options.rule!, n),
      multiply: 'input-minus-baseline' as const,
    },
    used: { steps: n, rule: rule ?? context.options.rule },
  };
};

export const LAYER: Capabilities = { layer: true, layerShaped: true, delta: false, timesInput: false, random: false, tunnel: 'calls' };
export const NEURON: Capabilities = { ...LAYER, layerShaped: false };
export const LAYER_OPTIONS = {
  layer: { kind: 'tensor-name', doc: 'the layer: a node, or a tensor, of the model (required)' },
  attributeToLayerInput: boolean("attribute to the layer node's input, as that node reads it (Captum's attribute_to_layer_input)", false),
} satisfies Partial<Record<OptionKey, OptionSpec>>;
export const NEURON_OPTIONS = {
  ...LAYER_OPTIONS,
  neuron: { kind: 'index', doc: "the neuron: an index into the layer's per-sample shape (required)" },
} satisfies Partial<Record<OptionKey, OptionSpec>>;
export const PATH_OPTIONS = { steps: steps(50, "Captum's n_steps"), rule: INTEGRATION_RULE, baseline: BASELINE } satisfies Partial<
  Record<OptionKey, OptionSpec>
>;
