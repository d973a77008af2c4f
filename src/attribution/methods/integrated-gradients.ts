import { baselinesOf } from '../baselines.ts';
import { engineMethod, GRADIENT, IG_STEPS, withDelta } from '../families/gradients.ts';
import { BASELINE, INTEGRATION_RULE } from '../options.ts';
import { quadrature } from '../quadrature.ts';
import type { ExplainOptions, Method, MethodDescription } from '../types.ts';

/** Integrated gradients (Sundararajan 2017) on the engine: the quadrature's points on the line from each baseline. */
const integratedGradients: Method = async (context) => {
  const { steps, rule } = context.options as Required<ExplainOptions>;
  const { baselines, name } = baselinesOf(context);
  const run = engineMethod(() => ({
    baselines: { perInput: baselines },
    path: quadrature(rule, steps),
    multiply: 'input-minus-baseline',
    used: { steps, rule, baseline: name },
  }));
  return withDelta(context, await run(context), baselines);
};

export default {
  id: 'integrated-gradients',
  summary: 'Integrated gradients (Sundararajan 2017): the gradient integrated along the line from a baseline',
  run: integratedGradients,
  options: { steps: IG_STEPS, rule: INTEGRATION_RULE, baseline: BASELINE },
  capabilities: { ...GRADIENT, delta: true, timesInput: true },
  captum: { call: 'IntegratedGradients(model).attribute(x, target, baselines, n_steps=steps, method=rule)' },
} satisfies MethodDescription;
