import { rng, uniform } from '../../src/graph/random.ts';

export { rng };

/** Uniform values in [-scale, scale), as float32 (what the GPU sees) so both sides start from the same numbers. */
export function randomTensor(count: number, seed: number, scale = 1): Float32Array {
  return uniform(rng(seed), count, scale);
}
