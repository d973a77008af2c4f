import { readFloats } from '../../gpu/buffers.ts';
import { GradlensError } from '../../gpu/errors.ts';
import { sizeOf } from '../../graph/ir.ts';
import { camMap, camWeights } from '../../kernels/attribution/cam.ts';
import { layerJob } from '../families/cam.ts';
import { LAYER, LAYER_OPTIONS, layerOf, used } from '../families/layers.ts';
import { boolean } from '../options.ts';
import { runJob } from '../runner.ts';
import type { Method, MethodDescription } from '../types.ts';

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

export default {
  id: 'layer-grad-cam',
  summary: "Layer Grad-CAM (Captum): any layer's Grad-CAM map in the layer's shape, ReLU off by default",
  run: layerGradCam,
  options: { ...LAYER_OPTIONS, relu: boolean("ReLU on the map (Captum's relu_attributions)", false) },
  capabilities: LAYER,
  captum: { call: 'LayerGradCam(model, layer).attribute(x, target, relu_attributions=relu, attribute_to_layer_input=attributeToLayerInput)' },
} satisfies MethodDescription;
