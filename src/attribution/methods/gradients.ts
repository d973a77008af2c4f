/** The methods on the engine's straight-line points: gradients, integrated and expected gradients, the SmoothGrad family. */
import { GradlensError } from '../../gpu/errors.ts';
import type { BackwardRules } from '../../graph/op.ts';
import { makeBaselines, range } from '../baselines.ts';
import { integrate, type PointSpec } from '../engine.ts';
import { quadrature } from '../quadrature.ts';
import { logitsOf, scoresOf } from '../targets.ts';
import type { Method, MethodContext } from '../types.ts';

/** The noise of a noise tunnel (or of SmoothGrad itself): samples and σ per input. Defaults: PAIR's SmoothGrad. */
function noise(context: MethodContext, tunnel: boolean) {
  const { options, inputs, count, size } = context;
  if (!tunnel) return { samples: 1, stdev: new Float32Array(count), used: {} };
  const samples = options.samples ?? 25;
  if (!Number.isInteger(samples) || samples < 1) throw new GradlensError('BAD_PARAMS', `samples must be a positive integer, got ${samples}`);
  const fraction = options.stdev === undefined ? (options.stdevFraction ?? 0.15) : undefined;
  const stdev = Float32Array.from({ length: count }, (_, i) => {
    if (fraction === undefined) return options.stdev!;
    const [low, high] = range(inputs.subarray(i * size, (i + 1) * size));
    return fraction * (high - low);
  });
  return { samples, stdev, used: fraction === undefined ? { samples, stdev: options.stdev } : { samples, stdevFraction: fraction } };
}

const COMBINE = { smoothgrad: 'mean', 'smoothgrad-sq': 'mean-square', vargrad: 'variance' } as const;

/** A method on the engine: its path, baseline and multiplier, optionally inside a noise tunnel. */
export function engineMethod(shape: (context: MethodContext) => Partial<PointSpec> & { rules?: BackwardRules; used?: Record<string, unknown> }, tunnel?: keyof typeof COMBINE): Method {
  return async (context) => {
    const tunnelType = tunnel ?? context.options.noiseTunnel;
    const { rules, used: ownUsed = {}, ...parts } = shape(context);
    const drawn = noise(context, tunnelType !== undefined || parts.samples !== undefined);
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
    const engineOptions = {
      targets: context.targets,
      score: context.score,
      rules: rules ?? 'standard',
      ...(context.options.chunkSize ? { chunkSize: context.options.chunkSize } : {}),
      ...(context.options.memoryBudget ? { memoryBudget: context.options.memoryBudget } : {}),
      ...(context.options.signal ? { signal: context.options.signal } : {}),
      ...(context.options.onProgress ? { onProgress: context.options.onProgress } : {}),
    };
    const result = await integrate(context.model, spec, engineOptions);
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

const saliency = (rules: BackwardRules, absoluteDefault: boolean) =>
  engineMethod((c) => {
    const absolute = c.options.absolute ?? absoluteDefault;
    return { rules, absolute, used: { absolute, ...(rules === 'standard' ? {} : { rules }) } };
  });

const integratedGradients: Method = async (context) => {
  const steps = context.options.steps ?? 50;
  const rule = context.options.rule ?? 'gausslegendre';
  const baseline = context.options.baseline ?? 'zeros';
  const baselines = makeBaselines(baseline, context.inputs, context.count, context.model.graph.inputShape, context.seed);
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
    const samples = c.options.samples ?? 5;
    const stdev = noisy ? (c.options.stdev ?? 0) : 0;
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

export const gradientMethods = {
  saliency: saliency('standard', true),
  'gradient-x-input': engineMethod(() => ({ multiply: 'input', used: {} })),
  'guided-backprop': saliency('guided-backprop', false),
  deconvnet: saliency('deconvnet', false),
  'integrated-gradients': integratedGradients,
  'expected-gradients': expectedGradients(false),
  'gradient-shap': expectedGradients(true),
  smoothgrad: tunnelOverGradients('smoothgrad'),
  'smoothgrad-sq': tunnelOverGradients('smoothgrad-sq'),
  vargrad: tunnelOverGradients('vargrad'),
  'smooth-taylor': smoothTaylor,
} satisfies Record<string, Method>;

/** Methods whose noise tunnel runs inside the engine, noisy points batched with the method's own; others get tunnel.ts. */
export const TUNNEL_NATIVE: ReadonlySet<string> = new Set([
  'saliency', 'gradient-x-input', 'guided-backprop', 'deconvnet', 'integrated-gradients', 'smoothgrad', 'smoothgrad-sq', 'vargrad',
]);
