// Philox4x32-10 (Salmon, Moraes, Dror, Shaw 2011, "Parallel random numbers: as easy as 1, 2, 3"), with BigInt
// products: an implementation independent of the kernel's 16-bit split, checked against Random123's known answers.
const M0 = 0xd2511f53n;
const M1 = 0xcd9e8d57n;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

function mulhilo(m: bigint, x: number): [number, number] {
  const product = m * BigInt(x >>> 0);
  return [Number(product >> 32n) >>> 0, Number(product & 0xffffffffn) >>> 0];
}

export function philox4x32(counter: readonly number[], key: readonly number[]): number[] {
  let [c0, c1, c2, c3] = counter.map((v) => v >>> 0) as [number, number, number, number];
  let [k0, k1] = key.map((v) => v >>> 0) as [number, number];
  for (let round = 0; round < 10; round++) {
    const [hi0, lo0] = mulhilo(M0, c0);
    const [hi1, lo1] = mulhilo(M1, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

const unit = (bits: number) => (Math.floor((bits >>> 0) / 256) + 1) / 16777216;

/** The engine's standard normal for (element, sample, input): Box–Muller on the first two words of stream 0. */
export function engineNormal(seed: number, element: number, sample: number, input: number): number {
  const [a, b] = philox4x32([element, sample, input, 0], [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0]);
  return Math.sqrt(-2 * Math.log(unit(a!))) * Math.cos(2 * Math.PI * unit(b!));
}
