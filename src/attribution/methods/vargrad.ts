import { SMOOTH, tunnelOverGradients } from '../families/gradients.ts';
import { NOISE } from '../options.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'vargrad',
  summary: 'VarGrad (Adebayo 2018): the variance of gradients over noisy copies',
  run: tunnelOverGradients('vargrad'),
  options: NOISE,
  capabilities: SMOOTH,
  captum: 'NoiseTunnel(Saliency)',
} satisfies MethodDescription;
