import { engineMethod, SMOOTH } from '../families/gradients.ts';
import { NOISE } from '../options.ts';
import type { Method, MethodDescription } from '../types.ts';

/**
 * SmoothTaylor (Goh et al. 2021): (1/n) Σ (x − z_i) ⊙ g(z_i), z_i = x + ε_i. On the engine the baseline is x itself, so
 * the point b + 1·(x̃ − b) is z_i and the multiplier x̃ − b is ε_i; the sum is then negated.
 */
const smoothTaylor: Method = async (context) => {
  const run = engineMethod((c) => ({ baselines: { perInput: c.inputs }, multiply: 'input-minus-baseline', used: {} }), 'smoothgrad');
  const result = await run(context);
  // 0 − v, not −v: an exact zero (a feature the model ignores) stays +0.
  return { ...result, attribution: result.attribution.map((v) => 0 - v), used: { ...result.used, noiseTunnel: undefined } };
};

export default {
  id: 'smooth-taylor',
  summary: 'SmoothTaylor (Goh 2021): the Taylor term (x − z) ⊙ g(z) averaged over noisy roots z',
  run: smoothTaylor,
  options: NOISE,
  capabilities: { ...SMOOTH, timesInput: true },
} satisfies MethodDescription;
