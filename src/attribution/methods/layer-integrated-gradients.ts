import { baselinesOf, LAYER, LAYER_OPTIONS, layerOf, PATH_OPTIONS, used } from '../families/layers.ts';
import { layerIntegratedGradients } from '../layer.ts';
import type { ExplainOptions, Method, MethodDescription } from '../types.ts';

/** IG at the layer, along its values from the baselines' to the inputs' (src/attribution/layer.ts). */
const layerIg: Method = async (context) => {
  const layer = layerOf(context);
  const { steps, rule, baseline } = context.options as Required<ExplainOptions>;
  const run = await layerIntegratedGradients(context, layer, { inputs: baselinesOf(context) }, { steps, rule });
  return { ...run, shape: layer.shape, used: used(layer, { steps, rule, baseline: baseline instanceof Float32Array ? 'tensor' : baseline }) };
};

export default {
  id: 'layer-integrated-gradients',
  summary: "Layer integrated gradients (Captum): IG along the layer's values from the baseline's to the input's",
  run: layerIg,
  options: { ...LAYER_OPTIONS, ...PATH_OPTIONS },
  capabilities: { ...LAYER, delta: true, timesInput: true },
  captum: 'LayerIntegratedGradients',
} satisfies MethodDescription;
