/** What the methods on the engine's straight-line points share: gradients, expected gradients, the SmoothGrad family. */
import { GradlensError } from '../../gpu/errors.ts';
import type { BackwardRules } from '../../graph/op.ts';
import { integrate, type PointSpec } from '../engine.ts';
import { logitsOf, scoresOf } from '../targets.ts';
import { boolean, steps } from '../options.ts';
import { noiseOf } from '../tunnel.ts';
import type { Method, MethodContext, MethodResult } from '../types.ts';

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

/** The result with its convergence delta, unless a noise tunnel ran it (its points are noisy inputs, not x). */
export async function withDelta(context: MethodContext, result: MethodResult, baselines: Float32Array): Promise<MethodResult> {
  return context.options.noiseTunnel ? result : { ...result, delta: await convergenceDelta(context, result.attribution, baselines) };
}

export const saliency = (rules: BackwardRules) =>
  engineMethod((c) => ({ rules, absolute: c.options.absolute!, used: { absolute: c.options.absolute, ...(rules === 'standard' ? {} : { rules }) } }));

/** Expected gradients (Erion 2021) / GradientSHAP (Captum): baselines drawn from a set, α ~ U(0, 1), optional noise. */
export const expectedGradients = (noisy: boolean): Method =>
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

/** SmoothGrad family as methods of their own: a noise tunnel over signed vanilla gradients (PAIR's SmoothGrad). */
export const tunnelOverGradients = (type: keyof typeof COMBINE) => engineMethod(() => ({ used: {} }), type);

export const IG_STEPS = steps(50, "Captum's n_steps");

export const GRADIENT = { layer: false, delta: false, timesInput: false, random: false, tunnel: 'engine' } as const;
export const SMOOTH = { ...GRADIENT, random: true, tunnel: 'none' } as const;
export const absolute = (fallback: boolean) => boolean('absolute values of the gradients (true) or signed (false)', fallback);
/** Expected gradients and GradientSHAP: Captum GradientShap's n_samples = 5, stdevs = 0. */
export const BASELINE_SET = { kind: 'baseline-set', doc: 'the set baselines are drawn from (k × input size); required' } as const;
