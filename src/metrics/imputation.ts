import { GradlensError } from '../gpu/errors.ts';

/**
 * The 8-neighbourhood of ROAD's noisy linear imputation (Rong 2022, reference implementation's neighbors_weights):
 * 1/6 for the four direct neighbours, 1/12 for the diagonals, [row offset, column offset, weight].
 */
export const NEIGHBOURS: readonly (readonly [number, number, number])[] = [
  [-1, -1, 1 / 12],
  [-1, 0, 1 / 6],
  [-1, 1, 1 / 12],
  [0, -1, 1 / 6],
  [0, 1, 1 / 6],
  [1, -1, 1 / 12],
  [1, 0, 1 / 6],
  [1, 1, 1 / 12],
];

/** ROAD's default noise: σ = 0.01, absolute, added to every imputed value (NoisyLinearImputer(noise=0.01)). */
export const ROAD_NOISE = 0.01;

export interface ImputationOptions {
  /** Standard deviation of the Gaussian noise added to imputed values (default 0.01); 0 for plain linear imputation. */
  noise?: number;
  /** Standard normal draws for the noise (seeded by the caller). */
  normal?: () => number;
}

/**
 * Noisy linear imputation of one [C, H, W] image: every removed pixel (removed[h·W + w] ≠ 0) becomes the weighted
 * mean of its in-image 8-neighbours, removed ones included, so all removed pixels of a channel are one sparse
 * linear system; then N(0, σ²) noise is added to them. Kept pixels are returned unchanged.
 */
export function noisyLinearImputation(
  image: Float32Array,
  shape: readonly number[],
  removed: ArrayLike<number>,
  options: ImputationOptions = {},
): Float32Array {
  if (shape.length !== 3) throw new GradlensError('BAD_PARAMS', `linear imputation needs an image [C, H, W], not [${shape.join(', ')}]`);
  const [channels, height, width] = shape as [number, number, number];
  const plane = height * width;
  if (image.length !== channels * plane || removed.length !== plane)
    throw new GradlensError('BAD_INPUT', `an image [${shape.join(', ')}] needs ${channels * plane} values and a mask of ${plane}`);
  const noise = options.noise ?? ROAD_NOISE;
  if (!(noise >= 0)) throw new GradlensError('BAD_PARAMS', `noise must be ≥ 0, got ${noise}`);
  if (noise > 0 && !options.normal) throw new GradlensError('BAD_PARAMS', 'noisy imputation needs a seeded normal source');
  const unknowns: number[] = [];
  const variable = new Int32Array(plane).fill(-1);
  for (let p = 0; p < plane; p++) if (removed[p]) ((variable[p] = unknowns.length), unknowns.push(p));
  const out = Float32Array.from(image);
  const n = unknowns.length;
  if (n === 0) return out;
  if (n === plane) throw new GradlensError('BAD_PARAMS', 'linear imputation needs at least one kept pixel to impute from');

  // Row i: diagonal · x_i − Σ_j w_ij x_j = Σ_k w_ik v_k over removed neighbours j and kept neighbours k; the diagonal is
  // the sum of in-image weights (the reference drops the weight of neighbours outside the image). Symmetric positive
  // definite whenever a pixel is kept, so preconditioned conjugate gradients solve it.
  const diagonal = new Float64Array(n);
  const couplingStart = new Int32Array(n + 1);
  const couplingIndex: number[] = [];
  const couplingWeight: number[] = [];
  const known: { variable: number; pixel: number; weight: number }[] = [];
  for (let i = 0; i < n; i++) {
    const [row, column] = [Math.floor(unknowns[i]! / width), unknowns[i]! % width];
    for (const [dr, dc, weight] of NEIGHBOURS) {
      const [r, c] = [row + dr, column + dc];
      if (r < 0 || c < 0 || r >= height || c >= width) continue;
      diagonal[i]! += weight;
      const q = r * width + c;
      if (variable[q]! >= 0) (couplingIndex.push(variable[q]!), couplingWeight.push(weight));
      else known.push({ variable: i, pixel: q, weight });
    }
    couplingStart[i + 1] = couplingIndex.length;
  }
  const apply = (x: Float64Array, y: Float64Array) => {
    for (let i = 0; i < n; i++) {
      let sum = diagonal[i]! * x[i]!;
      for (let k = couplingStart[i]!; k < couplingStart[i + 1]!; k++) sum -= couplingWeight[k]! * x[couplingIndex[k]!]!;
      y[i] = sum;
    }
  };
  for (let c = 0; c < channels; c++) {
    const offset = c * plane;
    const b = new Float64Array(n);
    for (const { variable: i, pixel, weight } of known) b[i]! += weight * image[offset + pixel]!;
    const x = conjugateGradient(apply, diagonal, b);
    for (let i = 0; i < n; i++) out[offset + unknowns[i]!] = x[i]! + (noise > 0 ? noise * options.normal!() : 0);
  }
  return out;
}

/** Jacobi-preconditioned conjugate gradients for a symmetric positive definite A, to a relative residual of 1e-10. */
function conjugateGradient(apply: (x: Float64Array, y: Float64Array) => void, diagonal: Float64Array, b: Float64Array): Float64Array {
  const n = b.length;
  const x = new Float64Array(n);
  const r = Float64Array.from(b);
  const z = Float64Array.from(r, (v, i) => v / diagonal[i]!);
  const p = Float64Array.from(z);
  const q = new Float64Array(n);
  const norm = (v: Float64Array) => Math.sqrt(v.reduce((s, e) => s + e * e, 0));
  const target = 1e-10 * norm(b);
  if (target === 0) return x;
  let rz = r.reduce((s, e, i) => s + e * z[i]!, 0);
  for (let iteration = 0; iteration < 10 * n + 100 && norm(r) > target; iteration++) {
    apply(p, q);
    const alpha = rz / p.reduce((s, e, i) => s + e * q[i]!, 0);
    for (let i = 0; i < n; i++) ((x[i]! += alpha * p[i]!), (r[i]! -= alpha * q[i]!));
    for (let i = 0; i < n; i++) z[i] = r[i]! / diagonal[i]!;
    const next = r.reduce((s, e, i) => s + e * z[i]!, 0);
    const beta = next / rz;
    rz = next;
    for (let i = 0; i < n; i++) p[i] = z[i]! + beta * p[i]!;
  }
  return x;
}
