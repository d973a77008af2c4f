import { overPerturbedModels, WEIGHT_NOISE, WEIGHT_NOISE_CAPABILITIES } from '../families/weight-noise.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'noisegrad',
  summary: 'NoiseGrad (Bykov 2022): the base map averaged over models with multiplicative weight noise',
  run: overPerturbedModels(false),
  options: WEIGHT_NOISE,
  capabilities: WEIGHT_NOISE_CAPABILITIES,
} satisfies MethodDescription;
