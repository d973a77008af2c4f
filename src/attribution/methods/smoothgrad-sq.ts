import { SMOOTH, tunnelOverGradients } from '../families/gradients.ts';
import { NOISE } from '../options.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'smoothgrad-sq',
  summary: 'SmoothGrad² (Hooker 2019): the mean of squared gradients over noisy copies',
  run: tunnelOverGradients('smoothgrad-sq'),
  options: NOISE,
  capabilities: SMOOTH,
  captum: 'NoiseTunnel(Saliency)',
} satisfies MethodDescription;
