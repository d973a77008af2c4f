import { gridFor, type Dispatch } from '../gpu/commands.ts';
import type { GpuContext } from '../gpu/device.ts';
import { GradlensError } from '../gpu/errors.ts';
import { WORKGROUP_SIZE, wgslEnum } from './wgsl.ts';
import { rowReduceIterations, stridedIterations } from '../gpu/limits.ts';

export const SOFTMAX_OPS = ['softmax', 'log-softmax'] as const;
export type SoftmaxOp = (typeof SOFTMAX_OPS)[number];

/** A tensor seen as (outer, axisSize, inner) around the softmax axis: see `softmaxDims`. */
export interface SoftmaxDims {
  outer: number;
  axisSize: number;
  inner: number;
  op: SoftmaxOp;
  /** Invocations per row, a power of two ≤ 256; default `softmaxRowThreads(axisSize)`. */
  rowThreads?: number;
}

/** (outer, axisSize, inner) for ONNX's `axis` (negative counts from the end) of a tensor of `shape`. */
export function softmaxDims(shape: readonly number[], axis: number, op: SoftmaxOp): SoftmaxDims {
  const a = axis < 0 ? axis + shape.length : axis;
  if (!Number.isInteger(a) || a < 0 || a >= shape.length)
    throw new GradlensError('BAD_PARAMS', `softmax: axis ${axis} is outside a rank-${shape.length} tensor`);
  const product = (dims: readonly number[]) => dims.reduce((p, d) => p * d, 1);
  return { outer: product(shape.slice(0, a)), axisSize: shape[a]!, inner: product(shape.slice(a + 1)), op };
}

/**
 * One invocation per row up to 64 elements (no barriers; with inner > 1 neighbouring invocations read
 * neighbouring addresses); beyond that a power of two giving each invocation about 8 elements, up to 256.
 */
export function softmaxRowThreads(axisSize: number): number {
  if (axisSize <= 64) return 1;
  return Math.min(WORKGROUP_SIZE, 2 ** Math.ceil(Math.log2(Math.ceil(axisSize / 8))));
}

function plan(context: GpuContext, entry: string, dims: SoftmaxDims) {
  const module = context.kernels.variant('softmax');
  const rowThreads = dims.rowThreads ?? softmaxRowThreads(dims.axisSize);
  if (!Number.isInteger(Math.log2(rowThreads)) || rowThreads > WORKGROUP_SIZE) {
    throw new GradlensError('BAD_PARAMS', `${entry}: rowThreads ${rowThreads} is not a power of two ≤ ${WORKGROUP_SIZE}`);
  }
  const overrides = { OP: wgslEnum('softmax', 'OP', dims.op), WORKGROUP_SIZE, ROW_THREADS: rowThreads };
  // Each invocation walks its share of the row at most 3 times, with a tree reduction after each of the first 2.
  const iterations = 3 * stridedIterations(dims.axisSize, rowThreads) + 2 * rowReduceIterations(rowThreads, module);
  return { module, overrides, workgroups: gridFor(dims.outer * dims.inner * rowThreads, WORKGROUP_SIZE), iterations };
}

/** y = softmax(x) or log-softmax(x) along the axis, stably (the row maximum is subtracted first). */
export async function softmaxForward(context: GpuContext, io: { x: GPUBuffer; y: GPUBuffer }, dims: SoftmaxDims): Promise<Dispatch> {
  const { module, overrides, workgroups, iterations } = plan(context, 'softmax_forward', dims);
  const kernel = await context.kernels.kernel(module, 'softmax_forward', overrides);
  const params = { outer: dims.outer, axis_size: dims.axisSize, inner: dims.inner, accumulate: 0 };
  return { bound: kernel.bind(context.device, { params, ...io }), workgroups, iterations };
}

/** grad_x (=|+=) the input gradient from the forward's saved output y; `accumulate` adds into grad_x. */
export async function softmaxBackward(
  context: GpuContext,
  io: { y: GPUBuffer; gradY: GPUBuffer; gradX: GPUBuffer },
  dims: SoftmaxDims & { accumulate?: boolean },
): Promise<Dispatch> {
  const { module, overrides, workgroups, iterations } = plan(context, 'softmax_backward', dims);
  const kernel = await context.kernels.kernel(module, 'softmax_backward', overrides);
  const params = { outer: dims.outer, axis_size: dims.axisSize, inner: dims.inner, accumulate: Number(dims.accumulate ?? false) };
  return { bound: kernel.bind(context.device, { params, y: io.y, grad_y: io.gradY, grad_x: io.gradX }), workgroups, iterations };
}
