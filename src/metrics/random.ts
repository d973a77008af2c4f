import { STREAM, uniformSequence } from '../attribution/philox.ts';

/** A seeded stream of uniform [0, 1) and standard normal draws (Box–Muller over Philox's metric stream): metrics reproduce from their seed. */
export function gaussian(seed: number): { uniform: () => number; normal: () => number } {
  const uniform = uniformSequence(seed, STREAM.metric);
  return {
    uniform,
    normal: () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform()),
  };
}

/** A seeded random permutation of 0 … n − 1 (Fisher–Yates). */
export function permutation(n: number, uniform: () => number): Uint32Array {
  const order = Uint32Array.from({ length: n }, (_, k) => k);
  for (let k = n - 1; k > 0; k--) {
    const j = Math.floor(uniform() * (k + 1));
    [order[k], order[j]] = [order[j]!, order[k]!];
  }
  return order;
}
