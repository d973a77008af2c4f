import { BASELINE_SET, expectedGradients, GRADIENT } from '../families/gradients.ts';
import { integer, number } from '../options.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'gradient-shap',
  summary: 'GradientSHAP (Lundberg 2017, as Captum): expected gradients with Gaussian noise on the input',
  run: expectedGradients(true),
  options: {
    baselines: BASELINE_SET,
    samples: integer("baselines drawn per input (Captum's n_samples)", 5),
    stdev: number("σ of the input noise (Captum's stdevs)", 0, { min: 0 }),
  },
  capabilities: { ...GRADIENT, timesInput: true, random: true, tunnel: 'calls' },
  captum: { call: 'GradientShap(model).attribute(x, baselines, n_samples=samples, stdevs=stdev, target=target)' },
} satisfies MethodDescription;
