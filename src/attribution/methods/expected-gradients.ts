import { BASELINE_SET, expectedGradients, GRADIENT } from '../families/gradients.ts';
import { integer } from '../options.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'expected-gradients',
  summary: 'Expected gradients (Erion 2021): IG averaged over baselines drawn from a set, at random α',
  run: expectedGradients(false),
  options: { baselines: BASELINE_SET, samples: integer("baselines drawn per input (Captum GradientShap's n_samples)", 5) },
  capabilities: { ...GRADIENT, timesInput: true, random: true, tunnel: 'calls' },
  captum: { call: 'GradientShap(model).attribute(x, baselines, n_samples=samples, stdevs=0.0, target=target)' },
} satisfies MethodDescription;
