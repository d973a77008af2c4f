/** The methods on the engine's straight-line points: gradients, integrated and expected gradients, the SmoothGrad family. */
import { GradlensError } from '../../gpu/errors.ts';
import type { BackwardRules } from '../../graph/op.ts';
import { makeBaselines } from '../baselines.ts';
import { streamIds } from '../philox.ts';
import { integrate, type PointSpec } from '../engine.ts';
import { quadrature } from '../quadrature.ts';
import { logitsOf, scoresOf } from '../targets.ts';
import { BASELINE, boolean, integer, INTEGRATION_RULE, NOISE, number, steps } from '../options.ts';
import { noiseOf } from '../tunnel.ts';
import type { ExplainOptions, Method, MethodContext, MethodDescription } from '../types.ts';

const COMBINE = { smoothgrad: 'mean', 'smoothgrad-sq': 'mean-square', vargrad: 'variance' } as const;

/** A method on the engine: its path, baseline and multiplier, optionally inside a noise tunnel. */
export function engineMethod(
  shape: (context: MethodContext) => Partial<PointSpec> & { rules?: BackwardRules; used?: Record<string, unknown> },
  tunnel?: keyof typeof COMBINE,
): Method {
  return async (context) => {
    const tunnelType = tunnel ?? context.options.noiseTunnel;
    const { rules, used: ownUsed = {}, ...parts } = shape(context);
    // The options' noise, unless the method gives its own σ (expected gradients, GradientSHAP).
    const noisy = tunnelType !== undefined || (parts.samples !== undefined && parts.stdev === undefined);
    const drawn = noisy ? noiseOf(context) : { samples: 1, stdev: new Float32Array(context.count), used: {} };
    const spec: PointSpec = {
      inputs: context.inputs,
      count: context.count,
      baselines: { perInput: new Float32Array(context.inputs.length) },
      path: { alphas: [1], weights: [1] },
      multiply: 'none',
      combine: tunnelType ? COMBINE[tunnelType] : 'mean',
      seed: context.seed,
      ...parts,
      samples: parts.samples ?? drawn.samples,
      stdev: parts.stdev ?? drawn.stdev,
      ...(context.options.noise && (tunnelType || parts.samples) ? { noise: context.options.noise } : {}),
      ...(context.options.streams ? { streams: Uint32Array.from(context.options.streams) } : {}),
    };
    const result = await integrate(context.model, spec, {
      ...context.options,
      targets: context.targets,
      score: context.score,
      rules: rules ?? 'standard',
    });
    return { ...result, used: { ...ownUsed, ...(tunnelType ? { noiseTunnel: tunnelType, ...drawn.used } : {}) } };
  };
}

/** Σ attribution − (f(x) − f(baseline)) per input (Sundararajan 2017's completeness; Captum's convergence delta). */
export async function convergenceDelta(context: MethodContext, attribution: Float32Array, baselines: Float32Array): Promise<Float32Array> {
  const classes = context.model.outputShape.reduce((a, b) => a * b, 1);
  const baselineScores = scoresOf(await logitsOf(context.model, baselines, context.count), context.targets, classes, context.score);
  return Float32Array.from({ length: context.count }, (_, i) => {
    let sum = 0;
    for (let e = 0; e < context.size; e++) sum += attribution[i * context.size + e]!;
    return sum - (context.scores[i]! - baselineScores[i]!);
  });
}

const saliency = (rules: BackwardRules) =>
  engineMethod((c) => ({ rules, absolute: c.options.absolute!, used: { absolute: c.options.absolute, ...(rules === 'standard' ? {} : { rules }) } }));

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

/** Expected gradients (Erion 2021) / GradientSHAP (Captum): baselines drawn from a set, α ~ U(0, 1), optional noise. */
const expectedGradients = (noisy: boolean): Method =>
  engineMethod((c) => {
    const set = c.options.baselines;
    if (!set || set.length === 0 || set.length % c.size !== 0) {
      throw new GradlensError('BAD_PARAMS', `${c.options.method} needs \`baselines\`: a set of k inputs (k × ${c.size} values) to draw from`);
    }
    const samples = c.options.samples!;
    const stdev = noisy ? c.options.stdev! : 0;
    return {
      baselines: { set, setCount: set.length / c.size },
      path: 'random',
      samples,
      stdev: new Float32Array(c.count).fill(stdev),
      multiply: 'input-minus-baseline',
      used: { samples, baselineCount: set.length / c.size, ...(noisy ? { stdev } : {}) },
    };
  });

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

/** SmoothGrad family as methods of their own: a noise tunnel over signed vanilla gradients (PAIR's SmoothGrad). */
const tunnelOverGradients = (type: keyof typeof COMBINE) => engineMethod(() => ({ used: {} }), type);

export const IG_STEPS = steps(50, "Captum's n_steps");

const GRADIENT = { layer: false, delta: false, timesInput: false, random: false, tunnel: 'engine' } as const;
const SMOOTH = { ...GRADIENT, random: true, tunnel: 'none' } as const;
const absolute = (fallback: boolean) => boolean('absolute values of the gradients (true) or signed (false)', fallback);
/** Expected gradients and GradientSHAP: Captum GradientShap's n_samples = 5, stdevs = 0. */
const BASELINE_SET = { kind: 'baseline-set', doc: 'the set baselines are drawn from (k × input size); required' } as const;

export const gradientMethods: readonly MethodDescription[] = [
  {
    id: 'saliency',
    summary: 'Saliency: the gradient of the target (Simonyan 2014)',
    run: saliency('standard'),
    options: { absolute: absolute(true) },
    capabilities: GRADIENT,
    captum: 'Saliency',
  },
  {
    id: 'gradient-x-input',
    summary: 'Gradient × input (Shrikumar 2016)',
    run: engineMethod(() => ({ multiply: 'input', used: {} })),
    options: {},
    capabilities: { ...GRADIENT, timesInput: true },
    captum: 'InputXGradient',
  },
  {
    id: 'guided-backprop',
    summary: 'Guided backpropagation (Springenberg 2015): ReLUs pass positive gradients of positive inputs',
    run: saliency('guided-backprop'),
    options: { absolute: absolute(false) },
    capabilities: GRADIENT,
    captum: 'GuidedBackprop',
  },
  {
    id: 'deconvnet',
    summary: 'Deconvnet (Zeiler 2014): ReLUs pass positive gradients',
    run: saliency('deconvnet'),
    options: { absolute: absolute(false) },
    capabilities: GRADIENT,
    captum: 'Deconvolution',
  },
  {
    id: 'integrated-gradients',
    summary: 'Integrated gradients (Sundararajan 2017): the gradient integrated along the line from a baseline',
    run: integratedGradients,
    options: { steps: IG_STEPS, rule: INTEGRATION_RULE, baseline: BASELINE },
    capabilities: { ...GRADIENT, delta: true, timesInput: true },
    captum: 'IntegratedGradients',
  },
  {
    id: 'expected-gradients',
    summary: 'Expected gradients (Erion 2021): IG averaged over baselines drawn from a set, at random α',
    run: expectedGradients(false),
    options: { baselines: BASELINE_SET, samples: integer("baselines drawn per input (Captum GradientShap's n_samples)", 5) },
    capabilities: { ...GRADIENT, timesInput: true, random: true, tunnel: 'calls' },
  },
  {
    id: 'gradient-shap',
    summary: 'GradientSHAP (Lundberg 2017, as Captum): expected gradients with Gaussian noise on the input',
    run: expectedGradients(true),
    options: {
      baselines: BASELINE_SET,
      samples: integer("baselines drawn per input (Captum's n_samples)", 5),
      stdev: number("σ of the input noise (Captum's stdevs)", 0, { min: 0 }),
    },
    capabilities: { ...GRADIENT, timesInput: true, random: true, tunnel: 'calls' },
    captum: 'GradientShap',
  },
  {
    id: 'smoothgrad',
    summary: 'SmoothGrad (Smilkov 2017): gradients averaged over noisy copies',
    run: tunnelOverGradients('smoothgrad'),
    options: NOISE,
    capabilities: SMOOTH,
    captum: 'NoiseTunnel(Saliency)',
  },
  {
    id: 'smoothgrad-sq',
    summary: 'SmoothGrad² (Hooker 2019): the mean of squared gradients over noisy copies',
    run: tunnelOverGradients('smoothgrad-sq'),
    options: NOISE,
    capabilities: SMOOTH,
    captum: 'NoiseTunnel(Saliency)',
  },
  {
    id: 'vargrad',
    summary: 'VarGrad (Adebayo 2018): the variance of gradients over noisy copies',
    run: tunnelOverGradients('vargrad'),
    options: NOISE,
    capabilities: SMOOTH,
    captum: 'NoiseTunnel(Saliency)',
  },
  {
    id: 'smooth-taylor',
    summary: 'SmoothTaylor (Goh 2021): the Taylor term (x − z) ⊙ g(z) averaged over noisy roots z',
    run: smoothTaylor,
    options: NOISE,
    capabilities: { ...SMOOTH, timesInput: true },
  },
];
