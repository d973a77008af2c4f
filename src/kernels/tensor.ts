import { gridFor, type Dispatch } from '../gpu/commands.ts';
import type { GpuContext } from '../gpu/device.ts';
import { GradlensError } from '../gpu/errors.ts';
import { WORKGROUP_SIZE, wgslEnum } from './wgsl.ts';
import { loopIterations, stridedIterations, treeIterations } from '../gpu/limits.ts';

/** Axes a uniform `array<vec4<u32>, 2>` holds: any rank ≤ 6 fits, and more once coalesced. */
export const MAX_AXES = 8;
/** From this many terms per output, one workgroup sums each output (neighbouring reads, a tree sum). */
export const COOPERATIVE_FROM = 64;
const COOPERATIVE_WORKGROUP_SIZE = 64;

export const elementCount = (shape: readonly number[]): number => shape.reduce((n, extent) => n * extent, 1);

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  for (let d = shape.length - 1, step = 1; d >= 0; d--) {
    strides[d] = step;
    step *= shape[d]!;
  }
  return strides;
}

/**
 * Drops extent-1 axes and merges neighbours that every stride set walks as one axis
 * (stride[d] = extent[d+1]·stride[d+1]), so kernels do index arithmetic over as few axes as possible.
 */
export function coalesceAxes(shape: readonly number[], ...strideSets: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const merged: number[] = [];
  const strides: number[][] = strideSets.map(() => []);
  shape.forEach((extent, d) => {
    if (extent === 1) return;
    const last = merged.length - 1;
    if (last >= 0 && strideSets.every((set, s) => strides[s]![last] === extent * set[d]!)) {
      merged[last]! *= extent;
      strideSets.forEach((set, s) => (strides[s]![last] = set[d]!));
    } else {
      merged.push(extent);
      strideSets.forEach((set, s) => strides[s]!.push(set[d]!));
    }
  });
  return { shape: merged, strides };
}

/** Pads per-axis values to the uniform's eight slots. */
export function axisSlots(values: readonly number[], what: string): number[] {
  if (values.length > MAX_AXES) throw new GradlensError('BAD_PARAMS', `${what}: ${values.length} axes after merging, at most ${MAX_AXES} supported`);
  return [...values, ...new Array<number>(MAX_AXES - values.length).fill(0)];
}

function normalizeAxis(axis: number, rank: number, what: string): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank)
    throw new GradlensError('BAD_PARAMS', `${what}: axis ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

interface StridedCopy {
  /** The contiguous side's shape, and the strided side's step along each of its axes. */
  shape: readonly number[];
  strides: readonly number[];
  offset?: number;
  scale?: number;
  accumulate?: boolean;
}

function tensorParams(copy: StridedCopy, what: string, reduced: { shape: number[]; strides: number[] } = { shape: [], strides: [] }) {
  const axes = coalesceAxes(copy.shape, copy.strides);
  return {
    count: elementCount(copy.shape),
    rank: axes.shape.length,
    offset: copy.offset ?? 0,
    accumulate: Number(copy.accumulate ?? false),
    scale: copy.scale ?? 1,
    reduced_rank: reduced.shape.length,
    reduce_count: elementCount(reduced.shape),
    shape: axisSlots(axes.shape, what),
    strides: axisSlots(axes.strides[0]!, what),
    reduced_shape: axisSlots(reduced.shape, what),
    reduced_strides: axisSlots(reduced.strides, what),
  };
}

async function copyDispatch(
  context: GpuContext,
  entry: 'tensor_copy_from_strided' | 'tensor_copy_to_strided',
  io: { source: GPUBuffer; destination: GPUBuffer },
  copy: StridedCopy,
  what: string,
): Promise<Dispatch> {
  const kernel = await context.kernels.kernel('tensor', entry, { WORKGROUP_SIZE });
  const params = tensorParams(copy, what);
  return {
    bound: kernel.bind(context.device, { params, ...io }),
    workgroups: gridFor(params.count, WORKGROUP_SIZE),
    iterations: 2 * loopIterations(params.rank),
  };
}

export interface TransposeDims {
  /** x's shape. */
  shape: readonly number[];
  /** y axis i is x axis perm[i]; ONNX's default reverses the axes. */
  perm?: readonly number[];
}

function permutation(dims: TransposeDims): number[] {
  const rank = dims.shape.length;
  const perm = dims.perm ? [...dims.perm] : dims.shape.map((_, d) => rank - 1 - d);
  const seen = new Set(perm);
  if (perm.length !== rank || seen.size !== rank || perm.some((p) => !Number.isInteger(p) || p < 0 || p >= rank)) {
    throw new GradlensError('BAD_PARAMS', `Transpose: perm [${perm}] is not a permutation of the ${rank} axes of [${dims.shape}]`);
  }
  return perm;
}

export function transposeShape(dims: TransposeDims): number[] {
  return permutation(dims).map((p) => dims.shape[p]!);
}

/** y = transpose(x, perm): y[i₀..] = x at index i along axis perm[·]; a gather over y. */
export async function transposeForward(context: GpuContext, io: { x: GPUBuffer; y: GPUBuffer }, dims: TransposeDims): Promise<Dispatch> {
  const perm = permutation(dims);
  const xStrides = contiguousStrides(dims.shape);
  const copy = { shape: perm.map((p) => dims.shape[p]!), strides: perm.map((p) => xStrides[p]!) };
  return copyDispatch(context, 'tensor_copy_from_strided', { source: io.x, destination: io.y }, copy, 'Transpose');
}

/** grad_x (=|+=) transpose(grad_y, perm⁻¹). */
export async function transposeBackward(
  context: GpuContext,
  io: { gradY: GPUBuffer; gradX: GPUBuffer },
  dims: TransposeDims & { accumulate?: boolean },
): Promise<Dispatch> {
  const perm = permutation(dims);
  const yStrides = contiguousStrides(perm.map((p) => dims.shape[p]!));
  const strides = new Array<number>(perm.length);
  perm.forEach((p, i) => (strides[p] = yStrides[i]!)); // x axis perm[i] is y axis i
  const copy = { shape: dims.shape, strides, accumulate: dims.accumulate };
  return copyDispatch(context, 'tensor_copy_from_strided', { source: io.gradY, destination: io.gradX }, copy, 'Transpose backward');
}

export interface ConcatDims {
  /** The inputs' shapes, in order: one rank, equal except along `axis`. */
  shapes: readonly (readonly number[])[];
  /** May be negative (counted from the end), as in ONNX. */
  axis: number;
}

export function concatShape(dims: ConcatDims): number[] {
  const [first] = dims.shapes;
  if (!first) throw new GradlensError('BAD_PARAMS', 'Concat: no inputs');
  const axis = normalizeAxis(dims.axis, first.length, 'Concat');
  for (const shape of dims.shapes) {
    if (shape.length !== first.length || shape.some((extent, d) => d !== axis && extent !== first[d])) {
      throw new GradlensError('BAD_PARAMS', `Concat: input shapes [${dims.shapes.map((s) => `[${s}]`).join(', ')}] differ off axis ${axis}`);
    }
  }
  return first.map((extent, d) => (d === axis ? dims.shapes.reduce((sum, shape) => sum + shape[d]!, 0) : extent));
}

/** Input k's slice of y: its elements as [outer, block] at stride `outBlock`, starting at `offset`. */
function concatSlice(dims: ConcatDims, k: number): StridedCopy {
  const out = concatShape(dims);
  const axis = normalizeAxis(dims.axis, out.length, 'Concat');
  const inner = elementCount(out.slice(axis + 1));
  const shape = dims.shapes[k]!;
  const before = dims.shapes.slice(0, k).reduce((sum, s) => sum + s[axis]!, 0);
  return { shape: [elementCount(out.slice(0, axis)), shape[axis]! * inner], strides: [out[axis]! * inner, 1], offset: before * inner };
}

/** y = concat(inputs, axis): one dispatch per non-empty input, each writing its own slice of y. */
export async function concatForward(context: GpuContext, io: { inputs: readonly GPUBuffer[]; y: GPUBuffer }, dims: ConcatDims): Promise<Dispatch[]> {
  if (io.inputs.length !== dims.shapes.length)
    throw new GradlensError('BAD_PARAMS', `Concat: ${io.inputs.length} buffers for ${dims.shapes.length} shapes`);
  const nonEmpty = dims.shapes.flatMap((shape, k) => (elementCount(shape) > 0 ? [k] : []));
  return Promise.all(
    nonEmpty.map((k) =>
      copyDispatch(context, 'tensor_copy_to_strided', { source: io.inputs[k]!, destination: io.y }, concatSlice(dims, k), 'Concat'),
    ),
  );
}

/** The gradient of input `input`: its slice of grad_y, (=|+=) into grad_x. */
export async function concatBackward(
  context: GpuContext,
  io: { gradY: GPUBuffer; gradX: GPUBuffer },
  dims: ConcatDims & { input: number; accumulate?: boolean },
): Promise<Dispatch> {
  if (!(dims.input >= 0 && dims.input < dims.shapes.length)) throw new GradlensError('BAD_PARAMS', `Concat backward: no input ${dims.input}`);
  const copy = { ...concatSlice(dims, dims.input), accumulate: dims.accumulate };
  return copyDispatch(context, 'tensor_copy_from_strided', { source: io.gradY, destination: io.gradX }, copy, 'Concat backward');
}

/** ONNX ReduceMean, ReduceSum, ReduceL2, ReduceMax, ReduceMin, ReduceL1, ReduceSumSquare: shaders/tensor.wgsl's REDUCTION_*. */
export const REDUCE_OPS = ['mean', 'sum', 'l2', 'max', 'min', 'l1', 'sum-square'] as const;
export type ReduceOp = (typeof REDUCE_OPS)[number];

export interface ReduceDims {
  /** x's shape. */
  shape: readonly number[];
  /** Axes to reduce over, negative counted from the end; empty or absent: all (ONNX noop_with_empty_axes = 0). */
  axes?: readonly number[];
  /** ONNX keepdims, default 1: keep reduced axes with extent 1. Only the output's shape depends on it. */
  keepdims?: boolean | 0 | 1;
  /** Default mean. */
  op?: ReduceOp;
}

function reducedAxes(dims: ReduceDims): Set<number> {
  const rank = dims.shape.length;
  const axes = dims.axes?.length ? dims.axes.map((a) => normalizeAxis(a, rank, 'Reduce')) : dims.shape.map((_, d) => d);
  const reduced = new Set(axes);
  if (reduced.size !== axes.length) throw new GradlensError('BAD_PARAMS', `Reduce: axes [${dims.axes}] repeat an axis`);
  return reduced;
}

/** Which reductions' backward reads the forward's input, output and tie counts (the others scale grad_y). */
const readsForward = (op: ReduceOp) => op !== 'mean' && op !== 'sum';

export function reduceShape(dims: ReduceDims): number[] {
  const reduced = reducedAxes(dims);
  const keep = dims.keepdims === undefined || Boolean(dims.keepdims);
  return dims.shape.flatMap((extent, d) => (!reduced.has(d) ? [extent] : keep ? [1] : []));
}

/**
 * y = the reduction of x over the axes: a gather, one invocation (short folds) or one workgroup (long folds) per
 * output. `ties` (one float per output) receives, for Max and Min, how many inputs equal the result.
 */
export async function reduceForward(context: GpuContext, io: { x: GPUBuffer; y: GPUBuffer; ties: GPUBuffer }, dims: ReduceDims): Promise<Dispatch> {
  const reduced = reducedAxes(dims);
  const xStrides = contiguousStrides(dims.shape);
  const split = (keep: boolean) => dims.shape.map((_, d) => d).filter((d) => reduced.has(d) !== keep);
  const kept = split(true);
  const summed = coalesceAxes(
    split(false).map((d) => dims.shape[d]!),
    split(false).map((d) => xStrides[d]!),
  );
  const n = elementCount(summed.shape);
  const op = dims.op ?? 'mean';
  const copy = { shape: kept.map((d) => dims.shape[d]!), strides: kept.map((d) => xStrides[d]!), scale: op === 'mean' ? 1 / n : 1 };
  const params = tensorParams(copy, 'Reduce', { shape: summed.shape, strides: summed.strides[0]! });
  const cooperative = n >= COOPERATIVE_FROM;
  const workgroupSize = cooperative ? COOPERATIVE_WORKGROUP_SIZE : WORKGROUP_SIZE;
  const entry = cooperative ? 'tensor_reduce_cooperative' : 'tensor_reduce';
  const kernel = await context.kernels.kernel('tensor', entry, { WORKGROUP_SIZE: workgroupSize, REDUCTION: wgslEnum('tensor', 'REDUCTION', op) });
  const workgroups = cooperative ? gridFor(params.count, 1) : gridFor(params.count, WORKGROUP_SIZE);
  // reduced_offset() walks the reduced rank per term of the sum.
  const terms = cooperative ? stridedIterations(n, workgroupSize) + treeIterations(workgroupSize) : n;
  // Max and Min walk the terms twice: the extreme, then its ties.
  const iterations = loopIterations(params.rank) + 2 * (terms + 1) * (loopIterations(params.reduced_rank) + 1);
  return { bound: kernel.bind(context.device, { params, source: io.x, destination: io.y, ties: io.ties }), workgroups, iterations };
}

/**
 * grad_x (=|+=) the reduction's input gradient: grad_y broadcast back over the reduced axes (divided by n for the
 * mean), times x/y for L2, sign(x) for L1, 2x for SumSquare, or split evenly among the inputs equal to the result
 * for Max and Min (all but the mean and the sum read the forward's x, y and ties).
 */
export async function reduceBackward(
  context: GpuContext,
  io: { gradY: GPUBuffer; gradX: GPUBuffer; x?: GPUBuffer; y?: GPUBuffer; ties?: GPUBuffer },
  dims: ReduceDims & { accumulate?: boolean },
): Promise<Dispatch> {
  const op = dims.op ?? 'mean';
  const reduced = reducedAxes(dims);
  const keptShape = dims.shape.map((extent, d) => (reduced.has(d) ? 1 : extent));
  const yStrides = contiguousStrides(keptShape).map((stride, d) => (reduced.has(d) ? 0 : stride));
  const n = elementCount(dims.shape.filter((_, d) => reduced.has(d)));
  const copy = { shape: dims.shape, strides: yStrides, scale: op === 'mean' ? 1 / n : 1, accumulate: dims.accumulate };
  if (!readsForward(op))
    return copyDispatch(context, 'tensor_copy_from_strided', { source: io.gradY, destination: io.gradX }, copy, 'Reduce backward');
  if (!io.x || !io.y || !io.ties) throw new GradlensError('BAD_PARAMS', `Reduce ${op} backward needs the forward's x, y and ties`);
  const kernel = await context.kernels.kernel('tensor', 'tensor_reduce_backward', { WORKGROUP_SIZE, REDUCTION: wgslEnum('tensor', 'REDUCTION', op) });
  const params = tensorParams(copy, 'Reduce backward');
  const bound = kernel.bind(context.device, { params, source: io.gradY, destination: io.gradX, ties: io.ties, x: io.x, y: io.y });
  return { bound, workgroups: gridFor(params.count, WORKGROUP_SIZE), iterations: loopIterations(params.rank) };
}
