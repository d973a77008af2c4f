import { baselinesOf, engineAt, LAYER, LAYER_OPTIONS, layerDelta, layerOf, PATH_OPTIONS, used } from '../families/layers.ts';
import { quadrature } from '../quadrature.ts';
import type { ExplainOptions, Method, MethodDescription } from '../types.ts';

/**
 * Conductance (Dhamdhere 2018, as Captum): Σ_k ∂f/∂y(x_k) ⊙ (y(x_{k+1}) − y(x_k)) over the points of the rule's
 * steps + 1 nodes on the input path (Captum's `alphas_func(n_steps + 1)`); `delta` is its completeness gap.
 */
const layerConductance: Method = async (context) => {
  const layer = layerOf(context);
  const { steps, rule } = context.options as Required<ExplainOptions>;
  const baselines = baselinesOf(context);
  const run = await engineAt(
    context,
    { layer: layer.site },
    { baselines: { perInput: baselines }, path: quadrature(rule, steps + 1), conductance: true },
  );
  const delta = await layerDelta(context, layer, run.attribution, baselines);
  return { ...run, delta, shape: layer.shape, used: used(layer, { steps, rule }) };
};

export default {
  id: 'layer-conductance',
  summary: "Layer conductance (Dhamdhere 2018): the flow of the input path's IG through each unit of a layer",
  run: layerConductance,
  options: { ...LAYER_OPTIONS, ...PATH_OPTIONS },
  capabilities: { ...LAYER, delta: true, timesInput: true },
  captum: {
    call: 'LayerConductance(model, layer).attribute(x, baselines, target, n_steps=steps, method=rule, attribute_to_layer_input=attributeToLayerInput)',
  },
} satisfies MethodDescription;
