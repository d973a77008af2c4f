import { gradCam, LAYER, layerOptions } from '../families/cam.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'guided-grad-cam',
  summary: 'Guided Grad-CAM (Selvaraju 2017): Grad-CAM times guided backpropagation',
  run: gradCam('grad-cam', true),
  options: layerOptions('nearest', "PyTorch's nearest, as Captum GuidedGradCam"),
  capabilities: LAYER,
  captum: {
    call: 'GuidedGradCam(model, layer).attribute(x, target, interpolate_mode=upsample)',
    differs: 'relu false has no counterpart (GuidedGradCam always applies it)',
  },
} satisfies MethodDescription;
