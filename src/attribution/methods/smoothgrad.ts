import { SMOOTH, tunnelOverGradients } from '../families/gradients.ts';
import { NOISE } from '../options.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'smoothgrad',
  summary: 'SmoothGrad (Smilkov 2017): gradients averaged over noisy copies',
  run: tunnelOverGradients('smoothgrad'),
  options: NOISE,
  capabilities: SMOOTH,
  captum: 'NoiseTunnel(Saliency)',
} satisfies MethodDescription;
