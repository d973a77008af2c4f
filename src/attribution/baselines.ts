import { GradlensError } from '../gpu/errors.ts';
import type { Shape } from '../graph/ir.ts';
import { sizeOf } from '../graph/ir.ts';
import { STREAM, streamIds, uniform } from './philox.ts';
import type { Baseline, MethodContext } from './types.ts';

export type { Baseline } from './types.ts';

/** One baseline per input; `streams` key each input's random draws ('uniform'), so they do not depend on its batch. */
export function makeBaselines(
  baseline: Baseline,
  inputs: Float32Array,
  count: number,
  shape: Shape,
  seed: number,
  streams: Uint32Array,
): Float32Array {
  const size = sizeOf(shape);
  if (baseline === 'zeros') return new Float32Array(inputs.length);
  if (baseline instanceof Float32Array) {
    if (baseline.length === inputs.length) return baseline;
    if (baseline.length === size) return Float32Array.from({ length: inputs.length }, (_, i) => baseline[i % size]!);
    throw new GradlensError(
      'BAD_INPUT',
      `a baseline tensor must have ${size} values (one input) or ${inputs.length} (every input), got ${baseline.length}`,
    );
  }
  if (baseline === 'uniform') {
    const out = new Float32Array(inputs.length);
    for (let i = 0; i < count; i++) {
      const [low, high] = range(inputs.subarray(i * size, (i + 1) * size));
      for (let e = 0; e < size; e++) out[i * size + e] = low + (high - low) * uniform(seed, STREAM.baseline, e, 0, streams[i]!);
    }
    return out;
  }
  if ('constant' in baseline) return new Float32Array(inputs.length).fill(baseline.constant);
  if ('blur' in baseline) return gaussianBlur(inputs, shape, count, baseline.blur);
  throw new GradlensError('BAD_PARAMS', `unknown baseline ${JSON.stringify(baseline)}`);
}

export function range(values: ArrayLike<number>): [number, number] {
  let low = Infinity;
  let high = -Infinity;
  for (let i = 0; i < values.length; i++) {
    low = Math.min(low, values[i]!);
    high = Math.max(high, values[i]!);
  }
  return [low, high];
}

/** Separable Gaussian blur (truncated at 3σ, edges clamped) over the two trailing axes of each input. */
export function gaussianBlur(inputs: Float32Array, shape: Shape, count: number, sigma: number): Float32Array {
  if (sigma <= 0) return inputs.slice();
  if (shape.length < 2) throw new GradlensError('BAD_PARAMS', 'a blurred baseline needs an input with at least two spatial axes');
  const [height, width] = shape.slice(-2) as [number, number];
  const planes = (count * sizeOf(shape)) / (height * width);
  const radius = Math.ceil(3 * sigma);
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-((i - radius) ** 2) / (2 * sigma * sigma)));
  const norm = kernel.reduce((a, b) => a + b, 0);
  const out = new Float32Array(inputs.length);
  const row = new Float64Array(height * width);
  for (let p = 0; p < planes; p++) {
    const base = p * height * width;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (let k = -radius; k <= radius; k++) sum += kernel[k + radius]! * inputs[base + y * width + clamp(x + k, width)]!;
        row[y * width + x] = sum / norm;
      }
    }
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (let k = -radius; k <= radius; k++) sum += kernel[k + radius]! * row[clamp(y + k, height) * width + x]!;
        out[base + y * width + x] = sum / norm;
      }
    }
  }
  return out;
}

const clamp = (i: number, n: number) => Math.min(n - 1, Math.max(0, i));

/** The baseline option of a method's context made into one baseline per input, and its name for the record. */
export function baselinesOf(context: MethodContext): { baselines: Float32Array; name: unknown } {
  const baseline: Baseline = context.options.baseline ?? 'zeros';
  const streams = streamIds(context.options.streams, context.count);
  const baselines = makeBaselines(baseline, context.inputs, context.count, context.model.graph.inputShape, context.seed, streams);
  return { baselines, name: baseline instanceof Float32Array ? 'tensor' : baseline };
}
