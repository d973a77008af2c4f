/** The path methods beyond integrated gradients: Blur IG, Guided IG, IDGI and Split IG, on the path runner. */
import { GradlensError } from '../../gpu/errors.ts';
import { sizeOf } from '../../graph/ir.ts';
import { baselinesOf } from '../baselines.ts';
import { BASELINE, number, steps } from '../options.ts';
import type { ExplainOptions, Method, MethodContext, OptionSpec } from '../types.ts';
import { IG_STEPS } from './gradients.ts';
import { guidedPath, type GuidedSettings } from '../guided-path.ts';
import { GaussianTaps, PathPoints, runPath, type PathSpec } from '../path-runner.ts';
import { scoresOf } from '../targets.ts';

export const BLUR = {
  steps: steps(100, "PAIR saliency's BlurIG"),
  maxSigma: number("the blur σ, in pixels, where the path starts (PAIR's max_sigma)", 50, { min: 0, openLow: true }),
  gradStep: number("the σ step of the forward difference for ∂x_σ/∂σ (PAIR's grad_step)", 0.01, { min: 0, openLow: true }),
};
export const GUIDED = {
  steps: steps(200, "PAIR saliency's GuidedIG x_steps"),
  fraction: number("the fraction of features, those of smallest |gradient|, moved each step (PAIR's fraction)", 0.25, {
    min: 0,
    max: 1,
    openLow: true,
  }),
  maxDist: number("how far (in α) a feature may leave the straight line (PAIR's max_dist)", 0.02, { min: 0, max: 1 }),
  baseline: BASELINE,
};
export const IDGI_BASES = ['integrated-gradients', 'blur-ig', 'guided-ig'] as const;

/** A path method's step count: its own default, or for IDGI its base's. */
const stepsOf = (context: MethodContext, fallback: OptionSpec) => context.options.steps ?? (fallback.default as number);

/** Σ attribution − (f at the path's end − f at its start), per input. */
function completenessDelta(context: MethodContext, attribution: ArrayLike<number>, change: (i: number) => number): Float32Array {
  return Float32Array.from({ length: context.count }, (_, i) => {
    let sum = 0;
    for (let e = 0; e < context.size; e++) sum += attribution[i * context.size + e]!;
    return sum - change(i);
  });
}

/** σ_k = k·maxSigma/steps, k = 0 … steps, as PAIR's Blur IG spaces them (its `sqrt=False`). */
function blurSchedule(context: MethodContext) {
  const steps = stepsOf(context, BLUR.steps);
  const maxSigma = context.options.maxSigma!;
  const sigmas = Array.from({ length: steps + 1 }, (_, k) => (k * maxSigma) / steps);
  return { steps, maxSigma, sigmas };
}

/**
 * Blur IG (Xu et al. 2020) as PAIR's BlurIG.GetMask computes it: with σ_k = k·σ_max/N,
 *   attribution = −Σ_{k<N} (σ_{k+1} − σ_k) · g(x_{σ_k}) ⊙ (blur(x, σ_k + h) − blur(x, σ_k)) / h,
 * a forward difference of step h = gradStep for ∂x_σ/∂σ and the gradient at the less-blurred end of each step; the sign
 * turns the sum over σ upward into the path from σ_max down to 0. One more point, at σ_N, only gives f(blur(x, σ_max))
 * for the delta Σ attribution − (f(x) − f(blur(x, σ_max))).
 */
export const blurIg: Method = async (context) => {
  const { steps, maxSigma, sigmas } = blurSchedule(context);
  const gradStep = context.options.gradStep!;
  const taps = new GaussianTaps();
  const points = new PathPoints(context.count * (steps + 1));
  for (let i = 0; i < context.count; i++) {
    for (let k = 0; k <= steps; k++) {
      if (k === steps) points.push(i, 0, 0, false, taps.of(sigmas[k]!));
      else points.push(i, 0, -(sigmas[k + 1]! - sigmas[k]!) / gradStep, true, taps.of(sigmas[k]!), taps.of(sigmas[k]! + gradStep));
    }
  }
  const run = await runPath(context, { points, make: { blur: taps }, fold: 'direction' });
  const score = (i: number, k: number) => run.values[i * (steps + 1) + k]!;
  const delta = completenessDelta(context, run.sums, (i) => score(i, 0) - score(i, steps));
  return { attribution: run.sums, delta, points: run.points, chunks: run.chunks, chunkSize: run.chunkSize, used: { steps, maxSigma, gradStep } };
};

function guidedSettings(context: MethodContext): GuidedSettings {
  return {
    steps: stepsOf(context, GUIDED.steps),
    fraction: context.options.fraction!,
    maxDist: context.options.maxDist!,
  };
}

/** Guided IG (Kapishnikov et al. 2021), PAIR's GuidedIG.GetMask: steps (x_steps) 200, fraction 0.25, max_dist 0.02. */
export const guidedIg: Method = async (context) => {
  const settings = guidedSettings(context);
  const { baselines, name } = baselinesOf(context);
  const run = await guidedPath(context, baselines, settings, false);
  const attribution = Float32Array.from(run.attribution);
  const delta = completenessDelta(context, attribution, (i) => context.scores[i]! - run.startScores[i]!);
  return { attribution, delta, points: run.points, chunks: run.chunks, chunkSize: run.chunkSize, used: { ...settings, baseline: name } };
};

/**
 * IDGI (Yang et al. 2023): on the base method's path x_0 … x_N, attribution = Σ_j g_j² (f(x_{j+1}) − f(x_j)) / ‖g_j‖²
 * (the authors' idgi.py), so Σ attribution = f(x_N) − f(x_0) exactly; the delta reports how far f32 leaves it (a step
 * whose gradient is zero drops its Δf). The gradient of each step is the one its base uses: at x_j on IG's line
 * α_j = j/N; at the less-blurred end on Blur IG's σ grid; at the step's start on Guided IG's path.
 */
export const idgi: Method = async (context) => {
  const base = context.options.base!;
  if (base === 'guided-ig') {
    const settings = guidedSettings(context);
    const { baselines, name } = baselinesOf(context);
    const run = await guidedPath(context, baselines, settings, true);
    const attribution = Float32Array.from(run.idgi!);
    const delta = completenessDelta(context, attribution, (i) => run.endScores[i]! - run.startScores[i]!);
    return { attribution, delta, points: run.points, chunks: run.chunks, chunkSize: run.chunkSize, used: { base, ...settings, baseline: name } };
  }
  let spec: PathSpec;
  let steps: number;
  let used: Record<string, unknown>;
  if (base === 'blur-ig') {
    const schedule = blurSchedule(context);
    steps = schedule.steps;
    const taps = new GaussianTaps();
    const points = new PathPoints(context.count * (steps + 1));
    // Stored by σ upward, so the path's Δf from σ_{k+1} to σ_k is −(f_{k+1} − f_k): weight −1.
    for (let i = 0; i < context.count; i++) for (let k = 0; k <= steps; k++) points.push(i, 0, -1, k < steps, taps.of(schedule.sigmas[k]!));
    spec = { points, make: { blur: taps }, fold: 'idgi' };
    used = { base, steps, maxSigma: schedule.maxSigma };
  } else if (base === 'integrated-gradients') {
    steps = stepsOf(context, IG_STEPS);
    const { baselines, name } = baselinesOf(context);
    const points = new PathPoints(context.count * (steps + 1));
    for (let i = 0; i < context.count; i++) for (let j = 0; j <= steps; j++) points.push(i, j / steps, 1, j < steps);
    spec = { points, make: { line: baselines }, fold: 'idgi' };
    used = { base, steps, baseline: name };
  } else {
    throw new GradlensError('BAD_PARAMS', `unknown IDGI base "${base as string}" (use integrated-gradients, blur-ig or guided-ig)`);
  }
  const run = await runPath(context, spec);
  const score = (i: number, j: number) => run.values[i * (steps + 1) + j]!;
  const sign = base === 'blur-ig' ? -1 : 1;
  const delta = completenessDelta(context, run.sums, (i) => sign * (score(i, steps) - score(i, 0)));
  return { attribution: run.sums, delta, points: run.points, chunks: run.chunks, chunkSize: run.chunkSize, used };
};

/**
 * Split IG (Miglani et al. 2020, "Investigating Saturation Effects in Integrated Gradients"), as the authors' notebook
 * computes it: IG with riemann_right over `steps` (200) points α_k = k/N; the split is the first k whose score has
 * passed f(b) + splitRatio·(f(x) − f(b)) (past meaning beyond, in the direction of f(x) − f(b)); only the steps before
 * it are integrated, so the left part covers α ∈ [0, α_split]. A first forward-only pass finds the scores, a second
 * takes gradients at the kept points only. No change in f (or none passing the threshold) keeps the whole path.
 * `used.splitAlpha` reports α_split per input; the delta is Σ attribution − (f(x_{α_split}) − f(b)).
 */
export const splitIg: Method = async (context) => {
  const { count, size } = context;
  const { steps, splitRatio } = context.options as Required<ExplainOptions>;
  const { baselines, name } = baselinesOf(context);
  const line = new PathPoints(count * (steps + 1));
  for (let i = 0; i < count; i++) for (let k = 0; k <= steps; k++) line.push(i, k / steps, 0, false);
  // Progress counts the second pass at its most (every step kept) until the split is known.
  const scanProgress = { before: 0, total: line.length + count * steps };
  const scan = await runPath(context, { points: line, make: { line: baselines }, fold: 'none', progress: scanProgress });
  const pointTargets = Int32Array.from({ length: count * (steps + 1) }, (_, p) => context.targets[Math.floor(p / (steps + 1))]!);
  const scores = scoresOf(scan.values, pointTargets, sizeOf(context.model.outputShape), context.score);
  const score = (i: number, k: number) => scores[i * (steps + 1) + k]!;
  const kept = Array.from({ length: count }, (_, i) => {
    const change = score(i, steps) - score(i, 0);
    const threshold = score(i, 0) + splitRatio * change;
    for (let k = 1; k <= steps && change !== 0; k++) if (Math.sign(change) * (score(i, k) - threshold) > 0) return k - 1;
    return steps;
  });
  const left = new PathPoints(kept.reduce((a, b) => a + b, 0));
  kept.forEach((n, i) => {
    for (let k = 1; k <= n; k++) left.push(i, k / steps, 1 / steps, false);
  });
  const progress = { before: line.length, total: line.length + left.length };
  const spec: PathSpec = { points: left, make: { line: baselines }, fold: 'gradient', multiply: true, progress, varyingCount: true };
  const run = left.length > 0 ? await runPath(context, spec) : undefined;
  const attribution = run?.sums ?? new Float32Array(count * size);
  const delta = completenessDelta(context, attribution, (i) => score(i, kept[i]!) - score(i, 0));
  return {
    attribution,
    delta,
    points: scan.points + (run?.points ?? 0),
    chunks: scan.chunks + (run?.chunks ?? 0),
    chunkSize: scan.chunkSize,
    used: { steps, splitRatio, baseline: name, splitAlpha: kept.map((n) => n / steps) },
  };
};

export const PATH = { layer: false, delta: true, timesInput: true, random: false, tunnel: 'calls' } as const;
