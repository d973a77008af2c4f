import { baselinesOf, LAYER, LAYER_OPTIONS, layerOf, PATH_OPTIONS, used } from '../families/layers.ts';
import { sizeOf } from '../../graph/ir.ts';
import { layerIntegratedGradients } from '../layer.ts';
import { choice } from '../options.ts';
import type { ExplainOptions, Method, MethodDescription } from '../types.ts';

/** IG at the layer, along its values from the baselines' to the inputs' (src/attribution/layer.ts). */
const layerIg: Method = async (context) => {
  const layer = layerOf(context);
  const { steps, rule, baseline, layerBaseline } = context.options as Required<ExplainOptions>;
  // Zeros at the layer (zero embeddings) or the layer's values at the baseline inputs (Captum's).
  const start = layerBaseline === 'zeros' ? { values: new Float32Array(sizeOf(layer.shape)) } : { inputs: baselinesOf(context) };
  const run = await layerIntegratedGradients(context, layer, start, { steps, rule });
  const from = layerBaseline === 'zeros' ? { layerBaseline } : { baseline: baseline instanceof Float32Array ? 'tensor' : baseline };
  return { ...run, shape: layer.shape, used: used(layer, { steps, rule, ...from }) };
};

export default {
  id: 'layer-integrated-gradients',
  summary: "Layer integrated gradients (Captum): IG along the layer's values from the baseline's to the input's",
  run: layerIg,
  options: {
    ...LAYER_OPTIONS,
    ...PATH_OPTIONS,
    layerBaseline: choice(
      "where the layer's path starts: its values at the baseline inputs (Captum's) or zeros (zero embeddings)",
      ['inputs', 'zeros'],
      'inputs',
    ),
  },
  capabilities: { ...LAYER, delta: true, timesInput: true },
  captum: {
    call: 'LayerIntegratedGradients(model, layer).attribute(x, baselines, target, n_steps=steps, method=rule, attribute_to_layer_input=attributeToLayerInput)',
  },
} satisfies MethodDescription;
