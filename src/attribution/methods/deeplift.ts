import { baselinesOf } from '../baselines.ts';
import { engineMethod, GRADIENT, withDelta } from '../families/gradients.ts';
import { BASELINE } from '../options.ts';
import type { Method, MethodDescription } from '../types.ts';

/**
 * DeepLift (Shrikumar et al. 2017) with Captum's rescale rule: each input and its reference run as a pair of rows of
 * one batch (the engine's two points α = 1 and α = 0), the backward under the 'deeplift' rule set carries the
 * multipliers Δout/Δin through ReLU, Sigmoid, Tanh, Softmax and MaxPool (src/graph/ops/deeplift.ts), and the input's
 * row gives attribution = (x − x₀) ⊙ m. Σ attribution = f(x) − f(x₀) up to float32; `delta` reports the gap.
 */
const deepLift: Method = async (context) => {
  const { baselines, name } = baselinesOf(context);
  const run = engineMethod(() => ({
    baselines: { perInput: baselines },
    path: { alphas: [1, 0], weights: [1, 0] },
    multiply: 'input-minus-baseline',
    rules: 'deeplift',
    used: { baseline: name },
  }));
  return withDelta(context, await run(context), baselines);
};

export default {
  id: 'deeplift',
  summary: "DeepLift (Shrikumar 2017, Captum's rescale rule): multipliers Δout/Δin from the input and a reference together",
  run: deepLift,
  options: { baseline: { ...BASELINE, doc: 'the reference x₀: zeros, uniform, {constant}, {blur: σ} or a tensor' } },
  capabilities: { ...GRADIENT, delta: true, timesInput: true },
  captum: { call: 'DeepLift(model).attribute(x, target, baselines, return_convergence_delta=True)' },
} satisfies MethodDescription;
