import { gridFor, type Dispatch } from '../gpu/commands.ts';
import type { GpuContext } from '../gpu/device.ts';
import { GradlensError } from '../gpu/errors.ts';
import { WORKGROUP_SIZE } from './wgsl.ts';
import { rowReduceIterations, stridedIterations } from '../gpu/limits.ts';

/** `rows` rows of `size` elements each: the tensor split at ONNX's `axis`, see `layerNormDims`. */
export interface LayerNormDims {
  rows: number;
  /** D, the product of the normalised trailing dimensions (γ and β have D elements). */
  size: number;
  /** ONNX default 1e-5. */
  epsilon?: number;
  /** Invocations per row, a power of two ≤ 256; default `layerNormRowThreads(size)`. */
  rowThreads?: number;
}

/** Rows and row size for ONNX's `axis` (default −1; negative counts from the end) of a tensor of `shape`. */
export function layerNormDims(shape: readonly number[], axis = -1): { rows: number; size: number } {
  const a = axis < 0 ? axis + shape.length : axis;
  if (!Number.isInteger(a) || a < 0 || a >= shape.length)
    throw new GradlensError('BAD_PARAMS', `layernorm: axis ${axis} is outside a rank-${shape.length} tensor`);
  const product = (dims: readonly number[]) => dims.reduce((p, d) => p * d, 1);
  return { rows: product(shape.slice(0, a)), size: product(shape.slice(a)) };
}

/** One invocation per row up to 64 elements (no barriers); beyond that a power of two giving each about 8, up to 256. */
export function layerNormRowThreads(size: number): number {
  if (size <= 64) return 1;
  return Math.min(WORKGROUP_SIZE, 2 ** Math.ceil(Math.log2(Math.ceil(size / 8))));
}

function plan(context: GpuContext, entry: string, dims: LayerNormDims) {
  const module = context.kernels.variant('layernorm');
  const rowThreads = dims.rowThreads ?? layerNormRowThreads(dims.size);
  if (!Number.isInteger(Math.log2(rowThreads)) || rowThreads > WORKGROUP_SIZE) {
    throw new GradlensError('BAD_PARAMS', `${entry}: rowThreads ${rowThreads} is not a power of two ≤ ${WORKGROUP_SIZE}`);
  }
  // Each invocation walks its share of the row at most 3 times, with a tree reduction after each of the first 2.
  const iterations = 3 * stridedIterations(dims.size, rowThreads) + 2 * rowReduceIterations(rowThreads, module);
  return { module, overrides: { WORKGROUP_SIZE, ROW_THREADS: rowThreads }, workgroups: gridFor(dims.rows * rowThreads, WORKGROUP_SIZE), iterations };
}

/**
 * y = (x − μ)/√(σ² + ε) · γ (+ β) per row, σ² the population variance; also writes μ and 1/√(σ² + ε) per row
 * (`mean`, `invStdDev`: `rows` floats each, ONNX's optional outputs) for the backward.
 */
export async function layerNormForward(
  context: GpuContext,
  io: { x: GPUBuffer; scale: GPUBuffer; bias?: GPUBuffer; y: GPUBuffer; mean: GPUBuffer; invStdDev: GPUBuffer },
  dims: LayerNormDims,
): Promise<Dispatch> {
  const { module, overrides, workgroups, iterations } = plan(context, 'layernorm_forward', dims);
  const kernel = await context.kernels.kernel(module, 'layernorm_forward', overrides);
  const params = { rows: dims.rows, size: dims.size, epsilon: dims.epsilon ?? 1e-5, has_bias: Number(io.bias !== undefined), accumulate: 0 };
  // Without β the binding still needs a buffer: γ stands in (both read-only), and has_bias = 0 keeps it unread.
  const resources = { params, x: io.x, scale: io.scale, bias: io.bias ?? io.scale, y: io.y, mean: io.mean, inv_std_dev: io.invStdDev };
  return { bound: kernel.bind(context.device, resources), workgroups, iterations };
}

/** grad_x (=|+=) the input gradient from x, γ and the forward's saved μ and 1/σ; `accumulate` adds into grad_x. */
export async function layerNormBackward(
  context: GpuContext,
  io: { x: GPUBuffer; scale: GPUBuffer; mean: GPUBuffer; invStdDev: GPUBuffer; gradY: GPUBuffer; gradX: GPUBuffer },
  dims: LayerNormDims & { accumulate?: boolean },
): Promise<Dispatch> {
  const { module, overrides, workgroups, iterations } = plan(context, 'layernorm_backward', dims);
  const kernel = await context.kernels.kernel(module, 'layernorm_backward', overrides);
  const params = { rows: dims.rows, size: dims.size, epsilon: dims.epsilon ?? 1e-5, has_bias: 0, accumulate: Number(dims.accumulate ?? false) };
  const resources = { params, x: io.x, scale: io.scale, mean: io.mean, inv_std_dev: io.invStdDev, grad_y: io.gradY, grad_x: io.gradX };
  return { bound: kernel.bind(context.device, resources), workgroups, iterations };
}
