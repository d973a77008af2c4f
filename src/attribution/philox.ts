/**
 * Philox4x32-10 on the CPU, the same generator as shaders/lib/philox.wgsl: every random draw of gradlens is
 * Philox(seed, counter), the counter's last word naming what the draw is for (its stream, below), so draws of
 * different purposes never meet and a draw for one input depends on that input's stream id, not on its batch.
 */
import { GradlensError } from '../gpu/errors.ts';

/** The counter's last word, by purpose (the first three as in shaders/attribution.wgsl and weight-noise.wgsl). */
export const STREAM = { noise: 0, choice: 1, weights: 2, baseline: 3, metric: 4 } as const;
function mulhilo(a: number, b: number): [number, number] {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const loLo = aLo * bLo;
  const hiLo = aHi * bLo;
  const loHi = aLo * bHi;
  const cross = (loLo >>> 16) + (hiLo & 0xffff) + (loHi & 0xffff);
  const hi = aHi * bHi + (hiLo >>> 16) + (loHi >>> 16) + (cross >>> 16);
  return [hi >>> 0, Math.imul(a, b) >>> 0];
}

export function philox(counter: readonly [number, number, number, number], key: readonly [number, number]): [number, number, number, number] {
  let [c0, c1, c2, c3] = counter;
  let [k0, k1] = key;
  for (let round = 0; round < 10; round++) {
    const [hi0, lo0] = mulhilo(0xd2511f53, c0 >>> 0);
    const [hi1, lo1] = mulhilo(0xcd9e8d57, c2 >>> 0);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + 0x9e3779b9) >>> 0;
    k1 = (k1 + 0xbb67ae85) >>> 0;
  }
  return [c0 >>> 0, c1 >>> 0, c2 >>> 0, c3 >>> 0];
}

const unit = (bits: number) => ((bits >>> 8) + 1) / 16777216;

const keyOf = (seed: number): [number, number] => [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0];

/** A uniform draw in (0, 1] at (c0, c1, c2) of a stream. */
export function uniform(seed: number, stream: number, c0: number, c1: number, c2: number): number {
  return unit(philox([c0, c1, c2, stream], keyOf(seed))[0]);
}

/** Uniform draws in [0, 1) one after another (counter c0 counting), for CPU work that draws an unknown number. */
export function uniformSequence(seed: number, stream: number, id = 0): () => number {
  let [k, words] = [0, [] as number[]];
  return () => {
    if (words.length === 0) words = philox([k++, id >>> 0, Math.floor(id / 2 ** 32) >>> 0, stream], keyOf(seed));
    return (words.pop()! >>> 8) / 16777216;
  };
}

/** Stream ids, one per input: the given ones, or the inputs' indices. */
export function streamIds(streams: ArrayLike<number> | undefined, count: number): Uint32Array {
  if (streams === undefined) return Uint32Array.from({ length: count }, (_, i) => i);
  if (streams.length !== count) throw new GradlensError('BAD_INPUT', `${streams.length} noise streams for ${count} inputs`);
  return Uint32Array.from(streams);
}

/** The engine's standard normal for (element, sample, input) under `seed` (stream 0, Box–Muller). */
export function normal(seed: number, element: number, sample: number, input: number): number {
  const [a, b] = philox([element, sample, input, STREAM.noise], keyOf(seed));
  return Math.sqrt(-2 * Math.log(unit(a))) * Math.cos(2 * Math.PI * unit(b));
}
