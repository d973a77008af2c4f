import { makeBaselines } from '../baselines.ts';
import { convergenceDelta, engineMethod, GRADIENT, IG_STEPS } from '../families/gradients.ts';
import { BASELINE, INTEGRATION_RULE } from '../options.ts';
import { streamIds } from '../philox.ts';
import { quadrature } from '../quadrature.ts';
import type { ExplainOptions, Method, MethodDescription } from '../types.ts';

/** Integrated gradients (Sundararajan 2017) on the engine: the quadrature's points on the line from each baseline. */
const integratedGradients: Method = async (context) => {
  const { steps, rule, baseline } = context.options as Required<ExplainOptions>;
  const streams = streamIds(context.options.streams, context.count);
  const baselines = makeBaselines(baseline, context.inputs, context.count, context.model.graph.inputShape, context.seed, streams);
  const run = engineMethod(() => ({
    baselines: { perInput: baselines },
    path: quadrature(rule, steps),
    multiply: 'input-minus-baseline',
    used: { steps, rule, baseline: baseline instanceof Float32Array ? 'tensor' : baseline },
  }));
  const result = await run(context);
  if (context.options.noiseTunnel) return result;
  return { ...result, delta: await convergenceDelta(context, result.attribution, baselines) };
};

export default {
  id: 'integrated-gradients',
  summary: 'Integrated gradients (Sundararajan 2017): the gradient integrated along the line from a baseline',
  run: integratedGradients,
  options: { steps: IG_STEPS, rule: INTEGRATION_RULE, baseline: BASELINE },
  capabilities: { ...GRADIENT, delta: true, timesInput: true },
  captum: { call: 'IntegratedGradients(model).attribute(x, target, baselines, n_steps=steps, method=rule)' },
} satisfies MethodDescription;
