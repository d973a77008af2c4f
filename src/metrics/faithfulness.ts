import { GradlensError } from '../gpu/errors.ts';
import { sizeOf } from '../graph/ir.ts';
import { modelOf, type AnyModel } from '../lens.ts';
import type { ScoreKind } from '../graph/plan.ts';
import type { Target } from '../attribution/targets.ts';
import { featureMap, featureRelevance, rankFeatures, replacementsOf, type Granularity, type Replacement } from './features.ts';
import { perturbedLogits } from './perturb.ts';
import { gaussian, permutation } from './random.ts';
import { pearson } from './similarity.ts';
import { pointScores, scoredTargets } from './targets.ts';

export interface PerturbationOptions {
  granularity?: Granularity;
  replacement?: Replacement;
  /** Gaussian σ of the 'blur' replacement, in pixels (default 5). */
  blurSigma?: number;
  /** Class per input (default top-1 of the unperturbed input) and the score taken of it. */
  target?: Target | Int32Array;
  score?: ScoreKind;
  /** Seeds the 'noise' replacement and random subsets. */
  seed?: number;
  /** Points per forward pass. */
  chunkSize?: number;
}

export interface CurveOptions extends PerturbationOptions {
  /** Deletion removes features from the input; insertion adds them to the replacement (Petsiuk 2018). */
  mode?: 'deletion' | 'insertion';
  order?: 'most-relevant-first' | 'least-relevant-first';
  /** Curve points after the start (default: one per feature, at most 100). */
  steps?: number;
}

export interface Curve {
  /** Fraction of features removed (deletion) or inserted (insertion) at each point: k / steps. */
  fractions: Float64Array;
  /** count × (steps + 1) scores. */
  scores: Float32Array;
  /** Per input: area under the curve over [0, 1], trapezoidal (Petsiuk 2018's auc). */
  auc: Float64Array;
  /** Per input: (1 / (L + 1)) Σ_k f(x⁽⁰⁾) − f(x⁽ᵏ⁾) (Samek 2017's AOPC; pixel flipping with most-relevant-first). */
  aopc: Float64Array;
  targets: Int32Array;
}

/**
 * Deletion and insertion curves (Petsiuk 2018, RISE §4.1); pixel flipping (Bach 2015) and region perturbation /
 * AOPC (Samek 2017) are the same curve with their granularity and replacement. Every point of every input is made on
 * the GPU and scored in batched forward passes.
 */
export async function perturbationCurve(
  handle: AnyModel,
  inputs: Float32Array,
  attribution: Float32Array,
  count: number,
  options: CurveOptions = {},
): Promise<Curve> {
  const model = await modelOf(handle);
  const shape = model.graph.inputShape;
  const size = sizeOf(shape);
  if (inputs.length !== count * size || attribution.length !== count * size)
    throw new GradlensError('BAD_INPUT', `inputs and attribution need ${count} × ${size} values`);
  const mode = options.mode ?? 'deletion';
  const score = options.score ?? 'probability';
  const { feature, features } = featureMap(shape, options.granularity ?? (shape.length === 3 ? 'pixel' : 'element'));
  const steps = options.steps ?? Math.min(features, 100);
  if (!Number.isInteger(steps) || steps < 1) throw new GradlensError('BAD_PARAMS', `steps must be a positive integer, got ${steps}`);
  const largestFirst = (options.order ?? 'most-relevant-first') === 'most-relevant-first';
  const ranks = new Uint32Array(count * features);
  for (let i = 0; i < count; i++)
    ranks.set(rankFeatures(featureRelevance(attribution.subarray(i * size, (i + 1) * size), feature, features), largestFirst), i * features);
  const points = count * (steps + 1);
  const source = Uint32Array.from({ length: points }, (_, p) => Math.floor(p / (steps + 1)));
  const limit = Uint32Array.from({ length: points }, (_, p) => Math.round(((p % (steps + 1)) * features) / steps));
  const replacements = replacementsOf(options.replacement ?? (mode === 'deletion' ? 'zero' : 'blur'), inputs, count, shape, options);
  const { targets, classes } = await scoredTargets(model, inputs, count, options.target ?? 'top1', score);
  const logits = await perturbedLogits(
    model,
    { inputs, replacements, feature, features, ranks, source, order: source, limit, insert: mode === 'insertion' },
    options.chunkSize,
  );
  const scores = pointScores(logits, source, targets, classes, score);
  const auc = new Float64Array(count);
  const aopc = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const curve = scores.subarray(i * (steps + 1), (i + 1) * (steps + 1));
    auc[i] = trapezoid(curve);
    aopc[i] = curve.reduce((sum, v) => sum + (curve[0]! - v), 0) / (steps + 1);
  }
  return { fractions: Float64Array.from({ length: steps + 1 }, (_, k) => k / steps), scores, auc, aopc, targets };
}

export const deletion = (model: AnyModel, inputs: Float32Array, attribution: Float32Array, count: number, options: Omit<CurveOptions, 'mode'> = {}) =>
  perturbationCurve(model, inputs, attribution, count, { ...options, mode: 'deletion' });

export const insertion = (
  model: AnyModel,
  inputs: Float32Array,
  attribution: Float32Array,
  count: number,
  options: Omit<CurveOptions, 'mode'> = {},
) => perturbationCurve(model, inputs, attribution, count, { ...options, mode: 'insertion' });

/** Area under points by the trapezoidal rule: at the given fractions, or equally spaced over [0, 1]; one point is its value. */
export function trapezoid(values: ArrayLike<number>, fractions?: ArrayLike<number>): number {
  const n = values.length;
  if (n < 2) return values[0] ?? 0;
  const at = (k: number) => (fractions ? fractions[k]! : k / (n - 1));
  let area = 0;
  for (let k = 1; k < n; k++) area += ((at(k) - at(k - 1)) * (values[k]! + values[k - 1]!)) / 2;
  return area;
}

export interface SubsetOptions extends PerturbationOptions {
  /** Random subsets per input and subset size. */
  samples?: number;
}

/**
 * Pearson correlation, per input, between Σ_{i∈S} φ_i and f(x) − f(x with S replaced) over random subsets S of
 * `subsetSize` features. Faithfulness correlation (Bhatt 2020) is one size; sensitivity-n (Ancona 2018) a sweep.
 */
export async function subsetCorrelation(
  handle: AnyModel,
  inputs: Float32Array,
  attribution: Float32Array,
  count: number,
  subsetSizes: readonly number[],
  options: SubsetOptions = {},
): Promise<Float64Array[]> {
  const model = await modelOf(handle);
  const shape = model.graph.inputShape;
  const size = sizeOf(shape);
  if (inputs.length !== count * size || attribution.length !== count * size)
    throw new GradlensError('BAD_INPUT', `inputs and attribution need ${count} × ${size} values`);
  const score = options.score ?? 'logit';
  const samples = options.samples ?? 100;
  const { feature, features } = featureMap(shape, options.granularity ?? (shape.length === 3 ? 'pixel' : 'element'));
  for (const n of subsetSizes)
    if (!Number.isInteger(n) || n < 1 || n > features) throw new GradlensError('BAD_PARAMS', `subset size ${n} is not in [1, ${features}]`);
  const random = gaussian(options.seed ?? 0);
  const perInput = subsetSizes.length * samples;
  const points = count * perInput;
  const ranks = new Uint32Array(points * features);
  const source = Uint32Array.from({ length: points }, (_, p) => Math.floor(p / perInput));
  const limit = Uint32Array.from({ length: points }, (_, p) => subsetSizes[Math.floor((p % perInput) / samples)]!);
  for (let p = 0; p < points; p++) permutation(features, random.uniform).forEach((f, place) => (ranks[p * features + f] = place));
  const replacements = replacementsOf(options.replacement ?? 'zero', inputs, count, shape, options);
  const { targets, scores, classes } = await scoredTargets(model, inputs, count, options.target ?? 'top1', score);
  const logits = await perturbedLogits(
    model,
    { inputs, replacements, feature, features, ranks, source, order: Uint32Array.from({ length: points }, (_, p) => p), limit },
    options.chunkSize,
  );
  const perturbed = pointScores(logits, source, targets, classes, score);
  const relevance = Array.from({ length: count }, (_, i) => featureRelevance(attribution.subarray(i * size, (i + 1) * size), feature, features));
  return subsetSizes.map((_, s) =>
    Float64Array.from({ length: count }, (_, i) => {
      const sums: number[] = [];
      const drops: number[] = [];
      for (let k = 0; k < samples; k++) {
        const p = i * perInput + s * samples + k;
        let sum = 0;
        for (let f = 0; f < features; f++) if (ranks[p * features + f]! < limit[p]!) sum += relevance[i]![f]!;
        sums.push(sum);
        drops.push(scores[i]! - perturbed[p]!);
      }
      return pearson(sums, drops);
    }),
  );
}

/** Faithfulness correlation (Bhatt 2020): subsets of `subsetSize` features (default a tenth), 100 per input. */
export async function faithfulnessCorrelation(
  handle: AnyModel,
  inputs: Float32Array,
  attribution: Float32Array,
  count: number,
  options: SubsetOptions & { subsetSize?: number } = {},
): Promise<Float64Array> {
  const model = await modelOf(handle);
  const { features } = featureMap(model.graph.inputShape, options.granularity ?? (model.graph.inputShape.length === 3 ? 'pixel' : 'element'));
  const [result] = await subsetCorrelation(
    model,
    inputs,
    attribution,
    count,
    [options.subsetSize ?? Math.max(1, Math.round(features / 10))],
    options,
  );
  return result!;
}

/** Sensitivity-n (Ancona 2018): the correlation at each subset size n. */
export function sensitivityN(
  model: AnyModel,
  inputs: Float32Array,
  attribution: Float32Array,
  count: number,
  sizes: readonly number[],
  options: SubsetOptions = {},
): Promise<Float64Array[]> {
  return subsetCorrelation(model, inputs, attribution, count, sizes, options);
}

/**
 * Non-sensitivity (Nguyen & Martínez 2020, as Quantus): per input, how many features have zero attribution but move
 * the output when replaced, or move nothing but have nonzero attribution; 0 is ideal. Each feature is replaced
 * `samples` times by seeded uniform noise over the input's range.
 */
export async function nonSensitivity(
  handle: AnyModel,
  inputs: Float32Array,
  attribution: Float32Array,
  count: number,
  options: PerturbationOptions & { samples?: number; tolerance?: number } = {},
): Promise<Int32Array> {
  const model = await modelOf(handle);
  const shape = model.graph.inputShape;
  const size = sizeOf(shape);
  const samples = options.samples ?? 3;
  const tolerance = options.tolerance ?? 1e-6;
  const score = options.score ?? 'logit';
  const { feature, features } = featureMap(shape, options.granularity ?? (shape.length === 3 ? 'pixel' : 'element'));
  const copies = new Float32Array(count * samples * size);
  for (let i = 0; i < count; i++) for (let s = 0; s < samples; s++) copies.set(inputs.subarray(i * size, (i + 1) * size), (i * samples + s) * size);
  const replacements = replacementsOf(options.replacement ?? 'noise', copies, count * samples, shape, { seed: options.seed ?? 0 });
  const ranks = new Uint32Array(features * features).fill(1);
  for (let f = 0; f < features; f++) ranks[f * features + f] = 0; // row f chooses feature f alone
  const points = count * samples * features;
  const source = Uint32Array.from({ length: points }, (_, p) => Math.floor(p / features));
  const order = Uint32Array.from({ length: points }, (_, p) => p % features);
  const { targets, scores, classes } = await scoredTargets(model, inputs, count, options.target ?? 'top1', score);
  const copyTargets = Int32Array.from({ length: count * samples }, (_, c) => targets[Math.floor(c / samples)]!);
  const logits = await perturbedLogits(
    model,
    { inputs: copies, replacements, feature, features, ranks, source, order, limit: new Uint32Array(points).fill(1) },
    options.chunkSize,
  );
  const perturbed = pointScores(logits, source, copyTargets, classes, score);
  return Int32Array.from({ length: count }, (_, i) => {
    const relevance = featureRelevance(attribution.subarray(i * size, (i + 1) * size), feature, features);
    let violations = 0;
    for (let f = 0; f < features; f++) {
      let effect = 0;
      for (let s = 0; s < samples; s++) effect = Math.max(effect, Math.abs(scores[i]! - perturbed[(i * samples + s) * features + f]!));
      if (Math.abs(relevance[f]!) <= tolerance !== effect <= tolerance) violations++;
    }
    return violations;
  });
}
