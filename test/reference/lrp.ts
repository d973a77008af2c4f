// Float64 references of shaders/attribution/lrp.wgsl's entry points, written from their definitions.
import type { LrpModifier } from '../../src/kernels/attribution/lrp.ts';

/** max(x, 0), min(x, 0), x + γ·max(x, 0), or 1. */
export function modify(x: ArrayLike<number>, modifier: LrpModifier, gamma = 0): Float64Array {
  const f = { positive: (v: number) => Math.max(v, 0), negative: (v: number) => Math.min(v, 0), gamma: (v: number) => v + gamma * Math.max(v, 0), ones: () => 1 };
  return Float64Array.from(x, f[modifier]);
}

/** A bound (one value or one per channel of axis 1) broadcast over count elements, `inner` per channel. */
export function bound(values: ArrayLike<number>, count: number, inner: number): Float64Array {
  return Float64Array.from({ length: count }, (_, i) => values[Math.floor(i / inner) % values.length]!);
}

/** z + ε·sign(z) with sign(0) = 1 (Captum's PropagationRule, Zennit's stabilize). */
export const stabilize = (z: number, epsilon: number) => z + epsilon * (z < 0 ? -1 : 1);

/** R / stab(z), 0 where stab(z) = 0. */
export function divide(relevance: ArrayLike<number>, z: ArrayLike<number>, epsilon: number): Float64Array {
  return Float64Array.from(z, (v, i) => {
    const d = stabilize(v, epsilon);
    return d === 0 ? 0 : relevance[i]! / d;
  });
}

/** previous (or 0) + sign·x ⊙ c (c = 1: lrp_add). */
export function product(x: ArrayLike<number>, c: ArrayLike<number> | undefined, sign: number, previous?: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v, i) => (previous?.[i] ?? 0) + sign * v * (c ? c[i]! : 1));
}
