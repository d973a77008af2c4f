import { GradlensError } from '../gpu/errors.ts';
import { sizeOf } from '../graph/ir.ts';
import { modelOf, type AnyModel } from '../lens.ts';
import { trapezoid } from './faithfulness.ts';
import type { ScoreKind } from '../graph/plan.ts';
import { logitsOf, type Target } from '../attribution/targets.ts';
import { featureMap, featureRelevance, rankFeatures } from './features.ts';
import { noisyLinearImputation, ROAD_NOISE } from './imputation.ts';
import { gaussian } from './random.ts';
import { pointScores, scoredTargets } from './targets.ts';

/** ROAD's removal fractions: 10 % … 90 % of the pixels (Rong 2022, §5). */
export const ROAD_FRACTIONS: readonly number[] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

export interface RoadOptions {
  order?: 'most-relevant-first' | 'least-relevant-first';
  /** Fractions of the pixels removed, each in [0, 1) (default 0.1 … 0.9). */
  fractions?: readonly number[];
  /** σ of the noise added to imputed pixels (default 0.01, the reference's). */
  noise?: number;
  /** Class per input (default top-1 of the unperturbed input) and the score taken of it (default probability). */
  target?: Target | Int32Array;
  score?: ScoreKind;
  seed?: number;
  /** Inputs per forward pass. */
  chunkSize?: number;
}

export interface RoadCurve {
  fractions: Float64Array;
  /** count × fractions scores. */
  scores: Float32Array;
  /** Per input: trapezoidal area under the curve divided by the span of the fractions (its mean height). */
  auc: Float64Array;
  /** Per input: the mean over fractions of f(x) − f(x with that fraction removed and imputed). */
  aopc: Float64Array;
  targets: Int32Array;
}

/**
 * ROAD, Remove And Debias (Rong 2022), without retraining: at each fraction the most (MoRF) or least (LeRF) relevant
 * pixels, relevance summed over channels, are removed and imputed by noisy linear imputation, which leaks far less of
 * the removal mask's shape than a constant would. Imputation is a sparse solve on the CPU; all points of all inputs
 * are scored in batched forward passes on the GPU.
 */
export async function road(
  handle: AnyModel,
  inputs: Float32Array,
  attribution: Float32Array,
  count: number,
  options: RoadOptions = {},
): Promise<RoadCurve> {
  const model = await modelOf(handle);
  const shape = model.graph.inputShape;
  const size = sizeOf(shape);
  if (shape.length !== 3) throw new GradlensError('BAD_PARAMS', `ROAD imputes pixels and needs an image input [C, H, W], not [${shape.join(', ')}]`);
  if (inputs.length !== count * size || attribution.length !== count * size)
    throw new GradlensError('BAD_INPUT', `inputs and attribution need ${count} × ${size} values`);
  const fractions = Float64Array.from(options.fractions ?? ROAD_FRACTIONS);
  const score = options.score ?? 'probability';
  const { feature, features } = featureMap(shape, 'pixel');
  fractions.forEach((f, k) => {
    if (!(f >= 0 && f < 1) || Math.round(f * features) >= features)
      throw new GradlensError('BAD_PARAMS', `ROAD fractions must leave a pixel to impute from, in [0, 1); got ${f}`);
    if (k > 0 && !(f > fractions[k - 1]!)) throw new GradlensError('BAD_PARAMS', 'ROAD fractions must increase');
  });
  const largestFirst = (options.order ?? 'most-relevant-first') === 'most-relevant-first';
  const normal = gaussian(options.seed ?? 0).normal;
  const points = new Float32Array(count * fractions.length * size);
  for (let i = 0; i < count; i++) {
    const image = inputs.subarray(i * size, (i + 1) * size);
    const ranks = rankFeatures(featureRelevance(attribution.subarray(i * size, (i + 1) * size), feature, features), largestFirst);
    fractions.forEach((f, k) => {
      const removed = Uint8Array.from(ranks, (place) => Number(place < Math.round(f * features)));
      points.set(noisyLinearImputation(image, shape, removed, { noise: options.noise ?? ROAD_NOISE, normal }), (i * fractions.length + k) * size);
    });
  }
  const { targets, scores: original, classes } = await scoredTargets(model, inputs, count, options.target ?? 'top1', score);
  const source = Uint32Array.from({ length: count * fractions.length }, (_, p) => Math.floor(p / fractions.length));
  const scores = pointScores(await logitsOf(model, points, source.length, options.chunkSize), source, targets, classes, score);
  const span = fractions.length > 1 ? fractions[fractions.length - 1]! - fractions[0]! : 0;
  const auc = new Float64Array(count);
  const aopc = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const curve = scores.subarray(i * fractions.length, (i + 1) * fractions.length);
    auc[i] = span > 0 ? trapezoid(curve, fractions) / span : (curve[0] ?? 0);
    aopc[i] = curve.reduce((sum, v) => sum + (original[i]! - v), 0) / curve.length;
  }
  return { fractions, scores, auc, aopc, targets };
}
