import { gridFor, type Dispatch } from '../gpu/commands.ts';
import type { GpuContext } from '../gpu/device.ts';
import { GradlensError } from '../gpu/errors.ts';
import { loopIterations, stridedIterations, treeIterations } from '../gpu/limits.ts';
import { axisSlots, coalesceAxes, contiguousStrides, COOPERATIVE_FROM, elementCount } from './tensor.ts';

/** ONNX Add, Sub, Mul, Div. */
export const BINARY_OPS = ['add', 'sub', 'mul', 'div'] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

export interface BinaryDims {
  op: BinaryOp;
  aShape: readonly number[];
  bShape: readonly number[];
}

const WORKGROUP_SIZE = 256;
const COOPERATIVE_WORKGROUP_SIZE = 64;

/** numpy / ONNX multidirectional broadcasting: shapes padded with 1s on the left, each axis equal or 1. */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, d) => {
    const p = a[d - rank + a.length] ?? 1;
    const q = b[d - rank + b.length] ?? 1;
    if (p !== q && p !== 1 && q !== 1) {
      throw new GradlensError('BAD_PARAMS', `shapes [${a}] and [${b}] do not broadcast: axis ${d} of the padded shapes has ${p} against ${q}`);
    }
    return p === 1 ? q : p;
  });
}

/** Coalesced output axes with a's and b's element strides along them (0 where broadcast). */
function layout(dims: BinaryDims) {
  const out = broadcastShape(dims.aShape, dims.bShape);
  const stridesOf = (shape: readonly number[]) => {
    const padded = [...new Array<number>(out.length - shape.length).fill(1), ...shape];
    const strides = contiguousStrides(padded);
    return { padded, strides: padded.map((extent, d) => (extent === 1 ? 0 : strides[d]!)) };
  };
  const a = stridesOf(dims.aShape);
  const b = stridesOf(dims.bShape);
  const { shape, strides } = coalesceAxes(out, a.strides, b.strides);
  const broadcast = a.padded.some((extent, d) => extent !== b.padded[d]);
  return { count: elementCount(out), shape, aStrides: strides[0]!, bStrides: strides[1]!, broadcast };
}

function uniformParams(geometry: ReturnType<typeof layout>, count: number, reduceCount: number, gradShape: number[], accumulate: boolean) {
  const what = 'binary op';
  return {
    count,
    rank: geometry.shape.length,
    reduce_count: reduceCount,
    accumulate: Number(accumulate),
    out_shape: axisSlots(geometry.shape, what),
    a_strides: axisSlots(geometry.aStrides, what),
    b_strides: axisSlots(geometry.bStrides, what),
    grad_shape: axisSlots(gradShape, what),
  };
}

function overrides(op: BinaryOp, broadcast: boolean, input = 0, workgroupSize = WORKGROUP_SIZE) {
  return { OP: BINARY_OPS.indexOf(op), INPUT: input, BROADCAST: Number(broadcast), WORKGROUP_SIZE: workgroupSize };
}

/** y = a op b, broadcast; a plain elementwise pass when a and b have one shape. */
export async function binaryForward(context: GpuContext, io: { a: GPUBuffer; b: GPUBuffer; y: GPUBuffer }, dims: BinaryDims): Promise<Dispatch> {
  const geometry = layout(dims);
  const kernel = await context.kernels.kernel('binary', 'binary_forward', overrides(dims.op, geometry.broadcast));
  const params = uniformParams(geometry, geometry.count, 1, geometry.shape, false);
  return { bound: kernel.bind(context.device, { params, ...io }), workgroups: gridFor(geometry.count, WORKGROUP_SIZE), iterations: 3 * loopIterations(params.rank) };
}

/**
 * grad_x (=|+=) the gradient of input `input` (x = a or b): Σ over the outputs broadcast from each of its
 * elements of dy (Add; Sub: −dy for b), dy·b / dy·a (Mul), dy/b / −dy·a/b² (Div).
 * Needs the forward inputs Mul and Div read (b for a's gradient, a — and for Div b — for b's); Add and Sub need neither.
 */
export async function binaryBackward(
  context: GpuContext,
  io: { gradY: GPUBuffer; gradX: GPUBuffer; a?: GPUBuffer; b?: GPUBuffer },
  dims: BinaryDims & { input: 'a' | 'b'; accumulate?: boolean },
): Promise<Dispatch> {
  const needsA = (dims.op === 'mul' || dims.op === 'div') && dims.input === 'b';
  const needsB = (dims.op === 'mul' && dims.input === 'a') || dims.op === 'div';
  if ((needsA && !io.a) || (needsB && !io.b)) {
    throw new GradlensError('BAD_PARAMS', `${dims.op} backward for ${dims.input} needs the forward input(s) ${[needsA && 'a', needsB && 'b'].filter(Boolean).join(' and ')}`);
  }
  const geometry = layout(dims);
  const xStrides = dims.input === 'a' ? geometry.aStrides : geometry.bStrides;
  const gradShape = geometry.shape.map((extent, d) => (xStrides[d] === 0 ? 1 : extent));
  const count = elementCount(dims.input === 'a' ? dims.aShape : dims.bShape);
  const reduceCount = elementCount(geometry.shape.filter((_, d) => xStrides[d] === 0));
  const cooperative = geometry.broadcast && reduceCount >= COOPERATIVE_FROM;
  const workgroupSize = cooperative ? COOPERATIVE_WORKGROUP_SIZE : WORKGROUP_SIZE;
  const entry = cooperative ? 'binary_backward_cooperative' : 'binary_backward';
  const kernel = await context.kernels.kernel('binary', entry, overrides(dims.op, geometry.broadcast, dims.input === 'a' ? 0 : 1, workgroupSize));
  const params = uniformParams(geometry, count, reduceCount, gradShape, dims.accumulate ?? false);
  // An input the rule never reads is still a binding of the entry point: grad_y stands in for it.
  const bound = kernel.bind(context.device, { params, grad_y: io.gradY, grad_x: io.gradX, a: io.a ?? io.gradY, b: io.b ?? io.gradY });
  // locate() walks the rank once for the element and once per term of the sum.
  const rank = geometry.shape.length;
  const terms = cooperative ? stridedIterations(reduceCount, workgroupSize) + treeIterations(workgroupSize) : geometry.broadcast ? reduceCount : 1;
  return { bound, workgroups: cooperative ? gridFor(count, 1) : gridFor(count, WORKGROUP_SIZE), iterations: (terms + 1) * (loopIterations(rank) + 1) };
}
