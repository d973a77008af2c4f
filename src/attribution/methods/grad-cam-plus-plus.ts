import { gradCam, LAYER, layerOptions } from '../families/cam.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'grad-cam-plus-plus',
  summary: 'Grad-CAM++ (Chattopadhay 2018): weights from higher-order gradient terms',
  run: gradCam('grad-cam-plus-plus', false),
  options: layerOptions('bilinear', 'half-pixel bilinear'),
  capabilities: LAYER,
} satisfies MethodDescription;
