import { gridFor, type Dispatch } from '../gpu/commands.ts';
import type { GpuContext } from '../gpu/device.ts';
import { GradlensError } from '../gpu/errors.ts';
import { loopIterations, stridedIterations, treeIterations } from '../gpu/limits.ts';
import { axisSlots, coalesceAxes, contiguousStrides, COOPERATIVE_FROM, elementCount } from './tensor.ts';
import { WORKGROUP_SIZE, wgslEnum } from './wgsl.ts';

/** ONNX Add, Sub, Mul, Div, Min and Max of two inputs, PRelu (b the slope), Where (condition ? a : b). */
export const BINARY_OPS = ['add', 'sub', 'mul', 'div', 'min', 'max', 'prelu', 'where'] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

export interface BinaryDims {
  op: BinaryOp;
  aShape: readonly number[];
  bShape: readonly number[];
  /** Where's condition; it may not enlarge the output beyond a and b's broadcast. */
  conditionShape?: readonly number[];
}

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
  const condition = dims.conditionShape ?? out;
  if (broadcastShape(out, condition).join() !== out.join()) {
    throw new GradlensError('BAD_PARAMS', `Where: a condition of shape [${condition}] would enlarge [${out}]`);
  }
  const c = stridesOf(condition);
  const { shape, strides } = coalesceAxes(out, a.strides, b.strides, c.strides);
  const broadcast = [b, c].some((other) => a.padded.some((extent, d) => extent !== other.padded[d]));
  return { count: elementCount(out), shape, aStrides: strides[0]!, bStrides: strides[1]!, cStrides: strides[2]!, broadcast };
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
    c_strides: axisSlots(geometry.cStrides, what),
    grad_shape: axisSlots(gradShape, what),
  };
}

function overrides(op: BinaryOp, broadcast: boolean, input: 'a' | 'b' = 'a', workgroupSize = WORKGROUP_SIZE) {
  return { OP: wgslEnum('binary', 'OP', op), INPUT: wgslEnum('binary', 'INPUT', input), BROADCAST: Number(broadcast), WORKGROUP_SIZE: workgroupSize };
}

/** Where's condition, or a stand-in for the other ops (the entry points bind it either way). */
function conditionOf(dims: BinaryDims, condition: GPUBuffer | undefined, standIn: GPUBuffer): GPUBuffer {
  if (dims.op === 'where' && !condition) throw new GradlensError('BAD_PARAMS', 'where needs its condition');
  return condition ?? standIn;
}

/** y = a op b, broadcast; a plain elementwise pass when a, b (and Where's condition) have one shape. */
export async function binaryForward(
  context: GpuContext,
  io: { a: GPUBuffer; b: GPUBuffer; y: GPUBuffer; condition?: GPUBuffer },
  dims: BinaryDims,
): Promise<Dispatch> {
  const geometry = layout(dims);
  const kernel = await context.kernels.kernel('binary', 'binary_forward', overrides(dims.op, geometry.broadcast));
  const params = uniformParams(geometry, geometry.count, 1, geometry.shape, false);
  const bound = kernel.bind(context.device, { params, a: io.a, b: io.b, y: io.y, condition: conditionOf(dims, io.condition, io.a) });
  return { bound, workgroups: gridFor(geometry.count, WORKGROUP_SIZE), iterations: 3 * loopIterations(params.rank) };
}

/** The forward inputs each op's gradient of a and of b reads. */
const READS: Record<BinaryOp, { a: readonly ('a' | 'b')[]; b: readonly ('a' | 'b')[] }> = {
  add: { a: [], b: [] },
  sub: { a: [], b: [] },
  mul: { a: ['b'], b: ['a'] },
  div: { a: ['b'], b: ['a', 'b'] },
  min: { a: ['a', 'b'], b: ['a', 'b'] },
  max: { a: ['a', 'b'], b: ['a', 'b'] },
  prelu: { a: ['a', 'b'], b: ['a'] },
  where: { a: [], b: [] },
};

/**
 * grad_x (=|+=) the gradient of input `input` (x = a or b): Σ over the outputs broadcast from each of its
 * elements of dy (Add; Sub: −dy for b), dy·b / dy·a (Mul), dy/b / −dy·a/b² (Div), dy where x is the one
 * selected and dy/2 on a tie (Min, Max), dy or dy·b below 0 / dy·a below 0 (PRelu). Needs the forward inputs in READS.
 */
export async function binaryBackward(
  context: GpuContext,
  io: { gradY: GPUBuffer; gradX: GPUBuffer; a?: GPUBuffer; b?: GPUBuffer; condition?: GPUBuffer },
  dims: BinaryDims & { input: 'a' | 'b'; accumulate?: boolean },
): Promise<Dispatch> {
  const reads = READS[dims.op][dims.input];
  if (reads.some((name) => !io[name])) {
    throw new GradlensError('BAD_PARAMS', `${dims.op} backward for ${dims.input} needs the forward input(s) ${reads.join(' and ')}`);
  }
  const geometry = layout(dims);
  const xStrides = dims.input === 'a' ? geometry.aStrides : geometry.bStrides;
  const gradShape = geometry.shape.map((extent, d) => (xStrides[d] === 0 ? 1 : extent));
  const count = elementCount(dims.input === 'a' ? dims.aShape : dims.bShape);
  const reduceCount = elementCount(geometry.shape.filter((_, d) => xStrides[d] === 0));
  const cooperative = geometry.broadcast && reduceCount >= COOPERATIVE_FROM;
  const workgroupSize = cooperative ? COOPERATIVE_WORKGROUP_SIZE : WORKGROUP_SIZE;
  const entry = cooperative ? 'binary_backward_cooperative' : 'binary_backward';
  const kernel = await context.kernels.kernel('binary', entry, overrides(dims.op, geometry.broadcast, dims.input, workgroupSize));
  const params = uniformParams(geometry, count, reduceCount, gradShape, dims.accumulate ?? false);
  // An input the rule never reads is still a binding of the entry point: grad_y stands in for it.
  const standIns = { a: io.a ?? io.gradY, b: io.b ?? io.gradY, condition: conditionOf(dims, io.condition, io.gradY) };
  const bound = kernel.bind(context.device, { params, grad_y: io.gradY, grad_x: io.gradX, ...standIns });
  // locate() walks the rank once for the element and once per term of the sum.
  const rank = geometry.shape.length;
  const terms = cooperative ? stridedIterations(reduceCount, workgroupSize) + treeIterations(workgroupSize) : geometry.broadcast ? reduceCount : 1;
  return {
    bound,
    workgroups: cooperative ? gridFor(count, 1) : gridFor(count, WORKGROUP_SIZE),
    iterations: (terms + 1) * (loopIterations(rank) + 1),
  };
}
