import { SMOOTH, tunnelOverGradients } from '../families/gradients.ts';
import { NOISE } from '../options.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'smoothgrad',
  summary: 'SmoothGrad (Smilkov 2017): gradients averaged over noisy copies',
  run: tunnelOverGradients('smoothgrad'),
  options: NOISE,
  capabilities: SMOOTH,
  captum: {
    call: "NoiseTunnel(Saliency(model)).attribute(x, nt_type='smoothgrad', nt_samples=samples, stdevs=stdev, target=target, abs=False)",
    differs: "samples 25 and σ 0.15·(max − min) of each input (PAIR's), where Captum's are nt_samples=5 and stdevs=1.0",
  },
} satisfies MethodDescription;
