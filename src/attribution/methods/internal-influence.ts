import { baselinesOf, engineAt, LAYER, LAYER_OPTIONS, layerOf, PATH_OPTIONS, used } from '../families/layers.ts';
import { quadrature } from '../quadrature.ts';
import type { ExplainOptions, Method, MethodDescription } from '../types.ts';

/** Σ_k w_k ∂f/∂y(x_k) at the input path's points (Captum: the layer's gradients integrated, not multiplied). */
const internalInfluence: Method = async (context) => {
  const layer = layerOf(context);
  const { steps, rule } = context.options as Required<ExplainOptions>;
  const run = await engineAt(context, { layer: layer.site }, { baselines: { perInput: baselinesOf(context) }, path: quadrature(rule, steps) });
  return { ...run, shape: layer.shape, used: used(layer, { steps, rule }) };
};

export default {
  id: 'internal-influence',
  summary: "Internal influence (Leino 2018): a layer's gradients integrated along the input path",
  run: internalInfluence,
  options: { ...LAYER_OPTIONS, ...PATH_OPTIONS },
  capabilities: LAYER,
  captum: {
    call: 'InternalInfluence(model, layer).attribute(x, baselines, target, n_steps=steps, method=rule, attribute_to_layer_input=attributeToLayerInput)',
  },
} satisfies MethodDescription;
