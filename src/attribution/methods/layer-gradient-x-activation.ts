import { engineAt, LAYER, LAYER_OPTIONS, layerOf, used } from '../families/layers.ts';
import type { Method, MethodDescription } from '../types.ts';

/** ∂f/∂y ⊙ y at the inputs (Captum's multiply_by_inputs = True). */
const layerGradientXActivation: Method = async (context) => {
  const layer = layerOf(context);
  const run = await engineAt(context, { layer: layer.site }, { multiply: 'activation' });
  return { ...run, shape: layer.shape, used: used(layer) };
};

export default {
  id: 'layer-gradient-x-activation',
  summary: "Layer gradient × activation: a layer's gradient times its value",
  run: layerGradientXActivation,
  options: LAYER_OPTIONS,
  capabilities: { ...LAYER, timesInput: true },
  captum: { call: 'LayerGradientXActivation(model, layer).attribute(x, target, attribute_to_layer_input=attributeToLayerInput)' },
} satisfies MethodDescription;
