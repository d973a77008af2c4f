import { expect } from 'vitest';

export interface Tolerance {
  /** Absolute part: what f32 rounding of the accumulated terms can reach. */
  abs: number;
  /** Relative part, of the expected value's magnitude. */
  rel: number;
}

/**
 * |actual − expected| ≤ abs + rel·|expected| for every element; on failure shows the worst few with their indices.
 * NaN anywhere fails.
 */
export function expectAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: Tolerance, label = ''): void {
  expect(actual.length, `${label} length`).toBe(expected.length);
  const bad: { index: number; actual: number; expected: number; error: number }[] = [];
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const error = Math.abs(a - e);
    if (!(error <= tolerance.abs + tolerance.rel * Math.abs(e))) bad.push({ index: i, actual: a, expected: e, error });
  }
  bad.sort((p, q) => q.error - p.error);
  expect(bad.slice(0, 5), `${label}: ${bad.length} of ${expected.length} outside ${JSON.stringify(tolerance)}`).toEqual([]);
}

/** ‖actual − expected‖₂ / ‖expected‖₂, in float64: how the Captum fixtures state their tolerance. */
export function relativeL2(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let difference = 0;
  let norm = 0;
  for (let i = 0; i < expected.length; i++) {
    difference += (actual[i]! - expected[i]!) ** 2;
    norm += expected[i]! ** 2;
  }
  return Math.sqrt(difference / norm);
}
