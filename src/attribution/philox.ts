/**
 * Philox4x32-10 on the CPU, the same stream as shaders/attribution.wgsl: noise for work that is not on the
 * engine (the noise tunnel around layer and path methods) matches what the engine would draw.
 */
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

/** The engine's standard normal for (element, sample, input) under `seed` (stream 0, Box–Muller). */
export function normal(seed: number, element: number, sample: number, input: number): number {
  const [a, b] = philox([element, sample, input, 0], [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0]);
  return Math.sqrt(-2 * Math.log(unit(a))) * Math.cos(2 * Math.PI * unit(b));
}
