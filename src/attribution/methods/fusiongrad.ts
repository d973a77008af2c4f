import { overPerturbedModels, WEIGHT_NOISE, WEIGHT_NOISE_CAPABILITIES } from '../families/weight-noise.ts';
import { integer, NOISE, number } from '../options.ts';
import type { MethodDescription } from '../types.ts';

export default {
  id: 'fusiongrad',
  summary: 'FusionGrad (Bykov 2022): NoiseGrad with SmoothGrad input noise on each perturbed model',
  run: overPerturbedModels(true),
  options: {
    ...WEIGHT_NOISE,
    samples: integer('noisy inputs per model (NoiseGradPlusPlusConfig.m)', 10),
    stdev: number('σ of the input noise, absolute (their sg_std, on normalised images)', 0.4, { min: 0 }),
    stdevFraction: number(NOISE.stdevFraction.doc, undefined, { min: 0 }),
  },
  capabilities: WEIGHT_NOISE_CAPABILITIES,
} satisfies MethodDescription;
