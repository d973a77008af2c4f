import { gradCam, LAYER, layerOptions } from '../families/cam.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'grad-cam',
  summary: "Grad-CAM (Selvaraju 2017): a layer's activations weighted by their mean gradients",
  run: gradCam('grad-cam', false),
  options: layerOptions('bilinear', 'half-pixel bilinear, as Captum LayerAttribution.interpolate'),
  capabilities: LAYER,
  captum: 'LayerGradCam',
} satisfies MethodDescription;
