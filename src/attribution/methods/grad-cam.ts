import { gradCam, LAYER, layerOptions } from '../families/cam.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'grad-cam',
  summary: "Grad-CAM (Selvaraju 2017): a layer's activations weighted by their mean gradients",
  run: gradCam('grad-cam', false),
  options: layerOptions('bilinear', 'half-pixel bilinear, as Captum LayerAttribution.interpolate'),
  capabilities: LAYER,
  captum: {
    call: 'LayerAttribution.interpolate(LayerGradCam(model, layer).attribute(x, target, relu_attributions=relu), (H, W), upsample)',
    differs:
      "relu true where LayerGradCam's relu_attributions is False, upsample bilinear where interpolate's mode is nearest; " +
      "the map repeated over the input's channels",
  },
} satisfies MethodDescription;
