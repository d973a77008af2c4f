import { GradlensError } from '../gpu/errors.ts';
import type { Shape } from '../graph/ir.ts';
import { sizeOf } from '../graph/ir.ts';
import { gaussian } from './random.ts';

/** What one feature is: a pixel (all channels at one position), a square patch of pixels, or a single element. */
export type Granularity = 'pixel' | 'element' | { patch: number };

/** What a removed feature becomes; a tensor gives every input its own replacement (count × size). */
export type Replacement = 'zero' | 'mean' | 'blur' | 'noise' | Float32Array;

/** Element → feature for one input of `shape` ([C, H, W] for pixels and patches; any shape for elements). */
export function featureMap(shape: Shape, granularity: Granularity): { feature: Uint32Array; features: number } {
  const size = sizeOf(shape);
  if (granularity === 'element' || shape.length !== 3) {
    if (granularity !== 'element' && shape.length !== 3)
      throw new GradlensError(
        'BAD_PARAMS',
        `${JSON.stringify(granularity)} features need an input [C, H, W], not [${shape.join(', ')}]; use 'element'`,
      );
    return { feature: Uint32Array.from({ length: size }, (_, e) => e), features: size };
  }
  const [, height, width] = shape as [number, number, number];
  const patch = granularity === 'pixel' ? 1 : granularity.patch;
  if (!Number.isInteger(patch) || patch < 1) throw new GradlensError('BAD_PARAMS', `patch size must be a positive integer, got ${patch}`);
  const across = Math.ceil(width / patch);
  const feature = Uint32Array.from({ length: size }, (_, e) => {
    const position = e % (height * width);
    return Math.floor(Math.floor(position / width) / patch) * across + Math.floor((position % width) / patch);
  });
  return { feature, features: across * Math.ceil(height / patch) };
}

/** Each feature's relevance: the attribution summed over its elements. */
export function featureRelevance(attribution: Float32Array, feature: Uint32Array, features: number): Float64Array {
  const relevance = new Float64Array(features);
  for (let e = 0; e < feature.length; e++) relevance[feature[e]!]! += attribution[e]!;
  return relevance;
}

/** Each feature's place when sorted by relevance, largest first (or smallest first); ties keep feature order. */
export function rankFeatures(relevance: ArrayLike<number>, largestFirst: boolean): Uint32Array {
  const order = Array.from({ length: relevance.length }, (_, f) => f);
  order.sort((a, b) => (largestFirst ? relevance[b]! - relevance[a]! : relevance[a]! - relevance[b]!) || a - b);
  const ranks = new Uint32Array(relevance.length);
  order.forEach((f, place) => (ranks[f] = place));
  return ranks;
}

/**
 * Replacements for `count` inputs: zeros; each channel's mean; a Gaussian blur (σ `blurSigma`, Petsiuk 2018's
 * insertion start); or uniform noise in the input's [min, max], seeded (Samek 2017's region perturbation).
 */
export function replacementsOf(
  replacement: Replacement,
  inputs: Float32Array,
  count: number,
  shape: Shape,
  options: { blurSigma?: number; seed?: number } = {},
): Float32Array {
  if (replacement instanceof Float32Array) {
    if (replacement.length !== inputs.length)
      throw new GradlensError('BAD_PARAMS', `a replacement tensor needs ${inputs.length} values, got ${replacement.length}`);
    return replacement;
  }
  const size = sizeOf(shape);
  const out = new Float32Array(inputs.length);
  if (replacement === 'zero') return out;
  const [channels, height, width] = shape.length === 3 ? (shape as [number, number, number]) : [1, 1, size];
  const plane = height * width;
  const next = gaussian(options.seed ?? 0);
  for (let i = 0; i < count; i++) {
    const x = inputs.subarray(i * size, (i + 1) * size);
    const y = out.subarray(i * size, (i + 1) * size);
    if (replacement === 'noise') {
      let low = Infinity;
      let high = -Infinity;
      for (const v of x) ((low = Math.min(low, v)), (high = Math.max(high, v)));
      for (let e = 0; e < size; e++) y[e] = low + next.uniform() * (high - low);
      continue;
    }
    for (let c = 0; c < channels; c++) {
      const channel = x.subarray(c * plane, (c + 1) * plane);
      if (replacement === 'mean') y.fill(channel.reduce((s, v) => s + v, 0) / plane, c * plane, (c + 1) * plane);
      else y.set(blur(channel, height, width, options.blurSigma ?? 5), c * plane);
    }
  }
  return out;
}

/** Separable Gaussian blur, kernel radius ⌈3σ⌉, edges replicated. */
function blur(plane: Float32Array, height: number, width: number, sigma: number): Float32Array {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const taps = Array.from({ length: 2 * radius + 1 }, (_, k) => Math.exp(-((k - radius) ** 2) / (2 * sigma * sigma)));
  const total = taps.reduce((a, b) => a + b, 0);
  const weights = taps.map((t) => t / total);
  const pass = (source: Float32Array, along: 'row' | 'column') =>
    Float32Array.from({ length: height * width }, (_, p) => {
      const [r, c] = [Math.floor(p / width), p % width];
      let v = 0;
      for (let k = -radius; k <= radius; k++) {
        const rr = along === 'column' ? Math.min(height - 1, Math.max(0, r + k)) : r;
        const cc = along === 'row' ? Math.min(width - 1, Math.max(0, c + k)) : c;
        v += weights[k + radius]! * source[rr * width + cc]!;
      }
      return v;
    });
  return pass(pass(plane, 'row'), 'column');
}
