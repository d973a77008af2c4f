import { gridFor, type Dispatch } from '../gpu/commands.ts';
import type { GpuContext } from '../gpu/device.ts';
import { GradlensError } from '../gpu/errors.ts';
import { isGallivm, isSwiftShader, loopBudget, loopIterations, nestedIterations, stridedIterations } from '../gpu/limits.ts';
import { bucket } from '../gpu/tune.ts';
import { halfWeights } from './half.ts';
import { wgslEnum } from './wgsl.ts';

export const GEMM_ACTIVATIONS = ['none', 'relu'] as const;
export type GemmActivation = (typeof GEMM_ACTIVATIONS)[number];

/** Invocations per workgroup (x along N, y along M) and the K step; each invocation computes 8×8 outputs. */
export interface GemmTile {
  workgroupX: number;
  workgroupY: number;
  tileK: number;
}

/** A 64×64 output tile per workgroup of 64 invocations; why, in shaders/gemm.wgsl. */
export const DEFAULT_GEMM_TILE: GemmTile = { workgroupX: 8, workgroupY: 8, tileK: 16 };

/**
 * The K step of a product of `multiplyAdds`: 8 below 2²⁴, else 16. Half the step is half the workgroup memory, which
 * SwiftShader zeroes in code compiled per pipeline at a cost superlinear in its size (Chromium, where Dawn cannot be
 * told otherwise: the digit explainer's first map 5.1 → 2.8 s); the small products ran no slower with it on either
 * software adapter, 256³ up to 25% slower on SwiftShader, so large ones keep 16 (docs/performance.md).
 */
export const tileKFor = (multiplyAdds: number): number => (multiplyAdds < 2 ** 24 ? 8 : 16);
const BLOCK = 8;
/** gemm_direct's workgroup size (shaders/gemm.wgsl). */
const DIRECT_WORKGROUP = 64;

/** C[z] = alpha · op(A[z]) · op(B[z]), op(A) M×K, op(B) K×N, row-major, z < batch. */
export interface GemmDims {
  m: number;
  n: number;
  k: number;
  /** Default 1. */
  batch?: number;
  /** A stored K×M. */
  transA?: boolean;
  /** B stored N×K. */
  transB?: boolean;
  /** Default 1. */
  alpha?: number;
  /** Floats between batches; default the matrix size, 0 broadcasts a 2-D operand over the batch. */
  aBatchStride?: number;
  bBatchStride?: number;
  cBatchStride?: number;
  /** Add into the output buffer instead of overwriting it. */
  accumulate?: boolean;
  tile?: Partial<GemmTile>;
  /** `tiled` (workgroup memory, `tile`) or `direct` (gemm_direct: 4×4 per invocation, no workgroup memory); default: tuned, else tiled. */
  kernel?: GemmKernel;
  /**
   * B is a weight buffer to read as f16 (AdapterOptions.precision 'f16', device with `shader-f16`): its f16 copy
   * (src/kernels/half.ts) is filled before the product and read by the `+f16` variant, which sums in f32.
   */
  halfB?: boolean;
}

export type GemmKernel = 'tiled' | 'direct';

export interface GemmForwardDims extends GemmDims {
  /** Shape of the bias (ONNX Gemm's C), broadcast unidirectionally to [batch, m, n]; needed when io.bias is given. */
  biasShape?: readonly number[];
  /** Bias multiplier; default 1. */
  beta?: number;
  /** Fused epilogue, applied after the bias (and before accumulating). */
  activation?: GemmActivation;
}

/** Output shape and dims of ONNX Gemm: A [M,K] (or [K,M] with transA), B [K,N] (or [N,K] with transB). */
export function gemmDims(aShape: readonly number[], bShape: readonly number[], transA = false, transB = false): GemmDims & { outputShape: number[] } {
  if (aShape.length !== 2 || bShape.length !== 2) throw new GradlensError('BAD_PARAMS', `Gemm takes 2-D A and B, got [${aShape}] and [${bShape}]`);
  const [m, k] = transA ? [aShape[1]!, aShape[0]!] : [aShape[0]!, aShape[1]!];
  const [kb, n] = transB ? [bShape[1]!, bShape[0]!] : [bShape[0]!, bShape[1]!];
  if (k !== kb) throw new GradlensError('BAD_PARAMS', `Gemm: inner dimensions differ (${k} and ${kb})`);
  return { m, n, k, transA, transB, outputShape: [m, n] };
}

/**
 * Dims of ONNX MatMul (numpy matmul): 1-D operands get a unit dimension that is dropped from the output; the
 * batch dimensions broadcast, where each operand must either have all of the output's batch dimensions or none
 * (stride 0). Patterns such as [2,1,M,K]·[1,3,K,N] are refused.
 */
export function matmulDims(aShape: readonly number[], bShape: readonly number[]): GemmDims & { outputShape: number[] } {
  if (aShape.length === 0 || bShape.length === 0) throw new GradlensError('BAD_PARAMS', 'MatMul operands must have rank ≥ 1');
  const a = aShape.length === 1 ? [1, aShape[0]!] : [...aShape];
  const b = bShape.length === 1 ? [bShape[0]!, 1] : [...bShape];
  const [m, k] = a.slice(-2) as [number, number];
  const [kb, n] = b.slice(-2) as [number, number];
  if (k !== kb) throw new GradlensError('BAD_PARAMS', `MatMul: inner dimensions differ in [${aShape}]·[${bShape}]`);
  const aBatch = a.slice(0, -2);
  const bBatch = b.slice(0, -2);
  const rank = Math.max(aBatch.length, bBatch.length);
  const pad = (dims: number[]) => [...Array<number>(rank - dims.length).fill(1), ...dims];
  const [pa, pb] = [pad(aBatch), pad(bBatch)];
  const outBatch = pa.map((d, i) => {
    const e = pb[i]!;
    if (d !== e && d !== 1 && e !== 1)
      throw new GradlensError('BAD_PARAMS', `MatMul: batch dimensions of [${aShape}] and [${bShape}] do not broadcast`);
    return Math.max(d, e);
  });
  const batch = outBatch.reduce((p, d) => p * d, 1);
  const stride = (dims: number[], size: number) => {
    if (dims.every((d, i) => d === outBatch[i])) return size;
    if (dims.every((d) => d === 1)) return 0;
    throw new GradlensError('BAD_PARAMS', `MatMul: [${aShape}]·[${bShape}] broadcasts only some batch dimensions of one operand; not supported`);
  };
  const outputShape = [...outBatch, ...(aShape.length === 1 ? [] : [m]), ...(bShape.length === 1 ? [] : [n])];
  return { m, n, k, batch, aBatchStride: stride(pa, m * k), bBatchStride: stride(pb, k * n), cBatchStride: m * n, outputShape };
}

/** What one dispatch of gemm_tiled computes (see shaders/gemm.wgsl). */
interface Launch {
  m: number;
  n: number;
  k: number;
  batch: number;
  reduceCount: number;
  transA: boolean;
  transB: boolean;
  strides: { a: number; b: number; c: number; aReduce: number; bReduce: number };
  alpha: number;
  accumulate: boolean;
  bias?: { batch: number; row: number; col: number; beta: number };
  activation: GemmActivation;
  tile: GemmTile;
  /** Set when the caller chose the tile or kernel; otherwise the autotune cache may. */
  fixed: boolean;
  kernel: GemmKernel;
  /** B read as f16 (GemmDims.halfB). */
  halfB: boolean;
}

/** The autotune candidates for a product without a chosen tile or kernel (src/gpu/tune.ts). */
const CANDIDATES: Record<string, (heuristic: GemmTile) => { kernel: GemmKernel; tile: GemmTile }> = {
  tiled: (tile) => ({ kernel: 'tiled', tile }), // tileOf's (rows adapted to M)
  'tiled-32': () => ({ kernel: 'tiled', tile: { workgroupX: 4, workgroupY: 4, tileK: 16 } }),
  direct: (tile) => ({ kernel: 'direct', tile }),
};

/**
 * Without a tuned choice: gemm_direct on Mesa's gallivm (llvmpipe), where it was the fastest in all 24 GEMM shape classes
 * `gradlens tune` measured for the digit CNN and the small CNN at 224×224×3 (the 46,656→32 dense layer 131 → 4 ms). On
 * SwiftShader, gemm_direct for few outputs and a long sum (K ≥ 8 × outputs), where the tiles would step through K one
 * barrier-bound tile at a time (the 224×224×3 CNN's 46,656→32 layer at 16 rows, interleaved minima at load 10: 242 →
 * 107 ms; its input gradient, a long N and K = 32, stays tiled: 104 against 131), and the 64×64 tile elsewhere.
 */
function untunedKernel(context: GpuContext, l: Launch): 'direct' | 'tiled' {
  if (isGallivm(context.report)) return 'direct';
  return isSwiftShader(context.report) && l.k * l.reduceCount >= 8 * l.batch * l.m * l.n ? 'direct' : 'tiled';
}

/** The shape class a tuned GEMM choice holds for: transposes, power-of-two buckets of the sizes, f16 weights. */
function shapeClass(l: Launch): string {
  const shape = `${bucket(l.batch)}x${bucket(l.m)}x${bucket(l.n)}x${bucket(l.k)}:r${bucket(l.reduceCount)}`;
  return `gemm:${Number(l.transA)}${Number(l.transB)}:${shape}${l.halfB ? ':f16' : ''}`;
}

/** Loop iterations of one gemm_direct invocation over `r` reduce terms and `k` depths: K in fours, the tail, 4 × 4 stores. */
function directIterations(r: number, k: number): number {
  const perR = loopIterations(Math.floor(k / 4)) + Math.floor(k / 4) * loopIterations(4) + loopIterations(k % 4);
  return loopIterations(r) + r * perR + nestedIterations(4, 4);
}

function tileOf(dims: GemmDims, m: number): GemmTile {
  const tile = { ...DEFAULT_GEMM_TILE, tileK: tileKFor(dims.m * dims.n * dims.k * (dims.batch ?? 1)), ...dims.tile };
  // Few rows (a chunk of a few points through a dense layer): a tile of fewer rows, so the padding rows' multiply-adds
  // and A loads are not paid; a single row keeps the default, so batch-1 plans compile no variant of their own.
  if (dims.tile?.workgroupY === undefined && m >= 2) tile.workgroupY = Math.min(tile.workgroupY, 2 ** Math.ceil(Math.log2(Math.ceil(m / BLOCK))));
  const memory = 4 * BLOCK * (tile.workgroupX + tile.workgroupY) * tile.tileK;
  if (tile.workgroupX * tile.workgroupY > 256 || memory > 16384 || Math.min(tile.workgroupX, tile.workgroupY, tile.tileK) < 1) {
    throw new GradlensError('BAD_PARAMS', `gemm tile ${JSON.stringify(tile)}: at most 256 invocations and 16 KiB of workgroup memory`);
  }
  return tile;
}

/**
 * The loop guard's cost of one gemm_tiled invocation over `r` reduce terms and `k` depths (src/gpu/limits.ts): per K
 * step, the two strided tile loads and the TILE_K multiply-adds; then the 4 × 4 epilogue loops.
 */
function gemmIterations(tile: GemmTile, r: number, k: number): number {
  const threads = tile.workgroupX * tile.workgroupY;
  const loadA = stridedIterations(BLOCK * tile.workgroupY * tile.tileK, threads);
  const loadB = stridedIterations(BLOCK * tile.workgroupX * tile.tileK, threads);
  const perStep = 1 + loadA + loadB + loopIterations(tile.tileK);
  return loopIterations(r) + r * (1 + Math.ceil(k / tile.tileK) * perStep) + 4 * nestedIterations(4, 4);
}

/**
 * The sum split into parts within the adapter's loop budget: ranges of reduce terms and of K (TILE_K-aligned), each
 * part one dispatch adding into C after the first. Whole sums where the budget allows (every adapter but gallivm's).
 */
function parts(l: Launch, budget: number): { r: [number, number]; k: [number, number] }[] {
  const tileK = l.kernel === 'direct' ? 4 : l.tile.tileK;
  const cost = (r: number, k: number) => (l.kernel === 'direct' ? directIterations(r, k) : gemmIterations(l.tile, r, k));
  const steps = Math.max(1, Math.ceil(l.k / tileK));
  // The cost is linear in the K steps: the most one part may take, from the cost of one step and of none.
  const perStep = cost(1, tileK) - cost(1, 0);
  const kSteps = Math.min(steps, Math.max(1, Math.floor((budget - cost(1, 0)) / perStep)));
  let rCount = Math.max(1, Math.floor(budget / cost(1, kSteps * tileK)));
  while (rCount > 1 && cost(rCount, kSteps * tileK) > budget) rCount--;
  const result: { r: [number, number]; k: [number, number] }[] = [];
  for (let r = 0; r < l.reduceCount; r += rCount) {
    for (let step = 0; step < steps; step += kSteps) {
      result.push({ r: [r, Math.min(r + rCount, l.reduceCount)], k: [step * tileK, Math.min((step + kSteps) * tileK, l.k)] });
    }
  }
  return result;
}

/**
 * No dispatch when C is empty (Dawn warns on zero workgroups); otherwise one per part of the sum (usually one). Without
 * a tile or kernel from the caller, the autotune cache's choice for the shape class, else the default tile.
 */
async function launch(context: GpuContext, io: { a: GPUBuffer; b: GPUBuffer; bias?: GPUBuffer; c: GPUBuffer }, l: Launch): Promise<Dispatch[]> {
  if (l.m === 0 || l.n === 0 || l.batch === 0) return [];
  if (l.fixed) return launchWith(context, io, l);
  const choice = await context.tuning.choose(context.device, shapeClass(l), Object.keys(CANDIDATES), untunedKernel(context, l), io.c, (name, c) =>
    launchWith(context, { ...io, c }, { ...l, ...CANDIDATES[name]!(l.tile) }),
  );
  return launchWith(context, io, { ...l, ...CANDIDATES[choice]!(l.tile) });
}

async function launchWith(context: GpuContext, io: { a: GPUBuffer; b: GPUBuffer; bias?: GPUBuffer; c: GPUBuffer }, l: Launch): Promise<Dispatch[]> {
  const { tile } = l;
  const split = parts(l, loopBudget(context.device));
  if (split.length > 1 && l.accumulate && l.activation !== 'none') {
    // The activation applies to the whole sum, which a split sum only has in C once the old values are mixed in.
    throw new GradlensError('DEVICE_LIMIT', "gemm: a sum split for this adapter's loop budget cannot both accumulate and apply an activation");
  }
  const direct = l.kernel === 'direct';
  const module = l.halfB ? context.kernels.halfVariant('gemm') : 'gemm';
  const half = l.halfB ? await halfWeights(context, io.b) : undefined;
  const kernel = direct
    ? await context.kernels.kernel(module, 'gemm_direct', { DIRECT_WORKGROUP })
    : await context.kernels.kernel(module, 'gemm_tiled', { WORKGROUP_X: tile.workgroupX, WORKGROUP_Y: tile.workgroupY, TILE_K: tile.tileK });
  const tilesN = Math.ceil(l.n / (BLOCK * tile.workgroupX));
  const slots = Math.ceil(l.m / (BLOCK * tile.workgroupY)) * l.batch; // (row tile, batch) pairs over y and z
  const max = context.device.limits.maxComputeWorkgroupsPerDimension;
  const workgroups: [number, number, number] = direct
    ? gridFor(l.batch * Math.ceil(l.m / 4) * Math.ceil(l.n / 4), DIRECT_WORKGROUP, max)
    : slots <= max
      ? [tilesN, slots, 1]
      : [tilesN, max, Math.ceil(slots / max)];
  const cost = (r: number, k: number) => (direct ? directIterations(r, k) : gemmIterations(tile, r, k));
  return split.map((part, index) => {
    const params = {
      m: l.m,
      n: l.n,
      k: l.k,
      batch: l.batch,
      r_begin: part.r[0],
      r_end: part.r[1],
      k_begin: part.k[0],
      k_end: part.k[1],
      a_batch_stride: l.strides.a,
      b_batch_stride: l.strides.b,
      c_batch_stride: l.strides.c,
      a_reduce_stride: l.strides.aReduce,
      b_reduce_stride: l.strides.bReduce,
      bias_batch_stride: l.bias?.batch ?? 0,
      bias_row_stride: l.bias?.row ?? 0,
      bias_col_stride: l.bias?.col ?? 0,
      has_bias: Number(l.bias !== undefined),
      accumulate: Number(l.accumulate && index === 0),
      continue_sum: Number(index > 0),
      finish: Number(index === split.length - 1),
      alpha: l.alpha,
      beta: l.bias?.beta ?? 0,
      trans_a: Number(l.transA),
      trans_b: Number(l.transB),
      activation: wgslEnum('gemm', 'ACTIVATION', l.activation),
    };
    // Without a bias, A stands in for the binding (both read-only); has_bias = 0 keeps it unread.
    const bound = kernel.bind(context.device, { params, a: io.a, b: half?.buffer ?? io.b, bias: io.bias ?? io.a, c: io.c });
    return { bound, workgroups, iterations: cost(part.r[1] - part.r[0], part.k[1] - part.k[0]), ...(half && { prologue: [half.fill] }) };
  });
}

function batchStrides(dims: GemmDims) {
  return { a: dims.aBatchStride ?? dims.m * dims.k, b: dims.bBatchStride ?? dims.k * dims.n, c: dims.cBatchStride ?? dims.m * dims.n };
}

/** Strides of a bias of `shape` broadcast unidirectionally (right-aligned, size-1 or missing dims) to [batch, m, n]. */
export function biasStrides(shape: readonly number[], batch: number, m: number, n: number): { batch: number; row: number; col: number } {
  const target = [batch, m, n];
  if (shape.length > 3) throw new GradlensError('BAD_PARAMS', `gemm bias of shape [${shape}] has more dimensions than [${target}]`);
  const dims = [...Array<number>(3 - shape.length).fill(1), ...shape];
  const strides = [0, 0, 0];
  let size = 1;
  for (let d = 2; d >= 0; d--) {
    if (dims[d] !== 1 && dims[d] !== target[d])
      throw new GradlensError('BAD_PARAMS', `gemm bias of shape [${shape}] does not broadcast to [${target}]`);
    strides[d] = dims[d] === 1 ? 0 : size;
    size *= dims[d]!;
  }
  return { batch: strides[0]!, row: strides[1]!, col: strides[2]! };
}

/** c[z] (=|+=) act(alpha · op(a[z]) · op(b[z]) + beta · bias), the forward of Gemm and MatMul. */
export async function gemm(
  context: GpuContext,
  io: { a: GPUBuffer; b: GPUBuffer; bias?: GPUBuffer; c: GPUBuffer },
  dims: GemmForwardDims,
): Promise<Dispatch[]> {
  const batch = dims.batch ?? 1;
  let bias: Launch['bias'];
  if (io.bias) {
    if (!dims.biasShape) throw new GradlensError('BAD_PARAMS', 'gemm: io.bias given without dims.biasShape');
    bias = { ...biasStrides(dims.biasShape, batch, dims.m, dims.n), beta: dims.beta ?? 1 };
  }
  const s = batchStrides(dims);
  return launch(context, io, {
    m: dims.m,
    n: dims.n,
    k: dims.k,
    batch,
    reduceCount: 1,
    transA: dims.transA ?? false,
    transB: dims.transB ?? false,
    strides: { ...s, aReduce: 0, bReduce: 0 },
    alpha: dims.alpha ?? 1,
    accumulate: dims.accumulate ?? false,
    activation: dims.activation ?? 'none',
    tile: tileOf(dims, dims.m),
    fixed: dims.tile !== undefined || dims.kernel !== undefined,
    kernel: dims.kernel ?? 'tiled',
    halfB: dims.halfB ?? false,
    ...(bias && { bias }),
  });
}

/**
 * One product x·y with its operand strides, written into an output of batch stride `outStride`: per batch, or,
 * when that output is a broadcast operand's gradient (outStride 0), summed over the batch in the kernel's r loop.
 */
function gradientLaunch(
  dims: GemmDims,
  shape: { m: number; n: number; k: number },
  x: { trans: boolean; stride: number },
  y: { trans: boolean; stride: number },
  outStride: number,
  halfB = false,
): Launch {
  const batch = dims.batch ?? 1;
  const reduce = outStride === 0;
  return {
    ...shape,
    batch: reduce ? 1 : batch,
    reduceCount: reduce ? batch : 1,
    transA: x.trans,
    transB: y.trans,
    strides: reduce ? { a: 0, b: 0, c: 0, aReduce: x.stride, bReduce: y.stride } : { a: x.stride, b: y.stride, c: outStride, aReduce: 0, bReduce: 0 },
    alpha: dims.alpha ?? 1,
    accumulate: dims.accumulate ?? false,
    activation: 'none',
    tile: tileOf(dims, shape.m),
    fixed: dims.tile !== undefined || dims.kernel !== undefined,
    kernel: dims.kernel ?? 'tiled',
    halfB,
  };
}

/**
 * gradA (=|+=) ∂L/∂A from gradC = ∂L/∂C, in A's layout: d op(A) = alpha · dC · op(B)ᵀ, transposed back when transA.
 * A broadcast over the batch (aBatchStride 0) gets the sum over the batch. The bias and a fused ReLU are not
 * differentiated here (the graph applies the ReLU backward to gradC first).
 */
export async function gemmBackwardA(
  context: GpuContext,
  io: { b: GPUBuffer; gradC: GPUBuffer; gradA: GPUBuffer },
  dims: GemmDims,
): Promise<Dispatch[]> {
  const { m, n, k } = dims;
  const s = batchStrides(dims);
  const transB = dims.transB ?? false;
  const l = dims.transA
    ? gradientLaunch(dims, { m: k, n: m, k: n }, { trans: transB, stride: s.b }, { trans: true, stride: s.c }, s.a) // op(B)·dCᵀ
    : gradientLaunch(dims, { m, n: k, k: n }, { trans: false, stride: s.c }, { trans: !transB, stride: s.b }, s.a, dims.halfB); // dC·op(B)ᵀ
  const [x, y] = dims.transA ? [io.b, io.gradC] : [io.gradC, io.b];
  return launch(context, { a: x, b: y, c: io.gradA }, l);
}

/**
 * gradB (=|+=) ∂L/∂B from gradC, in B's layout: d op(B) = alpha · op(A)ᵀ · dC, transposed back when transB.
 * For MatMul of two activations (attention); a broadcast B gets the sum over the batch.
 */
export async function gemmBackwardB(
  context: GpuContext,
  io: { a: GPUBuffer; gradC: GPUBuffer; gradB: GPUBuffer },
  dims: GemmDims,
): Promise<Dispatch[]> {
  const { m, n, k } = dims;
  const s = batchStrides(dims);
  const transA = dims.transA ?? false;
  const l = dims.transB
    ? gradientLaunch(dims, { m: n, n: k, k: m }, { trans: true, stride: s.c }, { trans: transA, stride: s.a }, s.b) // dCᵀ·op(A)
    : gradientLaunch(dims, { m: k, n, k: m }, { trans: !transA, stride: s.a }, { trans: false, stride: s.c }, s.b); // op(A)ᵀ·dC
  const [x, y] = dims.transB ? [io.gradC, io.a] : [io.a, io.gradC];
  return launch(context, { a: x, b: y, c: io.gradB }, l);
}
