import { gridFor, type Dispatch } from '../gpu/commands.ts';
import type { GpuContext } from '../gpu/device.ts';
import { GradlensError } from '../gpu/errors.ts';
import { loopIterations, nestedIterations } from '../gpu/limits.ts';
import { axisSlots, elementCount } from './tensor.ts';
import { WORKGROUP_SIZE } from './wgsl.ts';

/**
 * An op that only moves elements, as one table per axis: y at digits (y₀, y₁, …) is x at (table[0][y₀], …), or
 * `value` where an entry is −1. Shapes are the kernel's view: an axis Gather indexes by a multi-dimensional tensor
 * is one axis of their product (the same memory).
 */
export interface IndexMap {
  inShape: readonly number[];
  outShape: readonly number[];
  tables: readonly (readonly number[])[];
  value?: number;
}

/** The tables as shaders/gather.wgsl reads them: each axis's forward table, then its preimages as compressed rows. */
export function packIndexMap(map: IndexMap): { data: Int32Array; forwardAt: number[]; inverseAt: number[] } {
  const rank = map.inShape.length;
  if (map.outShape.length !== rank || map.tables.length !== rank || map.tables.some((t, d) => t.length !== map.outShape[d])) {
    throw new GradlensError('BAD_PARAMS', `index map: [${map.inShape}] → [${map.outShape}] needs one table per axis, one entry per output index`);
  }
  const data: number[] = [];
  const forwardAt: number[] = [];
  const inverseAt: number[] = [];
  map.tables.forEach((table, d) => {
    forwardAt.push(data.length);
    for (const x of table) {
      if (!(Number.isInteger(x) && x >= -1 && x < map.inShape[d]!))
        throw new GradlensError('BAD_PARAMS', `index map: axis ${d} index ${x} outside [0, ${map.inShape[d]})`);
      data.push(x);
    }
  });
  map.tables.forEach((table, d) => {
    const preimages = Array.from({ length: map.inShape[d]! }, () => [] as number[]);
    table.forEach((x, y) => x >= 0 && preimages[x]!.push(y));
    inverseAt.push(data.length);
    const rows = data.length;
    data.push(...new Array<number>(preimages.length + 1).fill(0));
    preimages.forEach((ys, x) => {
      data[rows + x] = data.length;
      data.push(...ys);
    });
    data[rows + preimages.length] = data.length;
  });
  return { data: Int32Array.from(data), forwardAt, inverseAt };
}

function gatherParams(map: IndexMap, count: number, accumulate: boolean) {
  const what = 'index map';
  const { forwardAt, inverseAt } = packIndexMap(map);
  return {
    count,
    rank: map.inShape.length,
    accumulate: Number(accumulate),
    value: map.value ?? 0,
    out_shape: axisSlots(map.outShape, what),
    in_shape: axisSlots(map.inShape, what),
    forward_at: axisSlots(forwardAt, what),
    inverse_at: axisSlots(inverseAt, what),
  };
}

/** y = x moved by the map; `tables` holds packIndexMap(map).data. */
export async function gatherForward(context: GpuContext, io: { x: GPUBuffer; y: GPUBuffer; tables: GPUBuffer }, map: IndexMap): Promise<Dispatch> {
  const kernel = await context.kernels.kernel('gather', 'gather_forward', { WORKGROUP_SIZE });
  const count = elementCount(map.outShape);
  const params = gatherParams(map, count, false);
  const bound = kernel.bind(context.device, { params, source: io.x, destination: io.y, tables: io.tables });
  return { bound, workgroups: gridFor(count, WORKGROUP_SIZE), iterations: loopIterations(params.rank) };
}

/** grad_x (=|+=) Σ of grad_y over each x element's preimages (zero where it has none). */
export async function gatherBackward(
  context: GpuContext,
  io: { gradY: GPUBuffer; gradX: GPUBuffer; tables: GPUBuffer },
  map: IndexMap & { accumulate?: boolean },
): Promise<Dispatch> {
  const kernel = await context.kernels.kernel('gather', 'gather_backward', { WORKGROUP_SIZE });
  const count = elementCount(map.inShape);
  const params = gatherParams(map, count, map.accumulate ?? false);
  const bound = kernel.bind(context.device, { params, source: io.gradY, destination: io.gradX, tables: io.tables });
  // An element sums the product of its preimages along each axis: at most the product of each axis's largest.
  const terms = map.tables.reduce((product, table, d) => {
    const counts = new Array<number>(map.inShape[d]!).fill(0);
    for (const x of table) if (x >= 0) counts[x]!++;
    return product * counts.reduce((most, c) => Math.max(most, c), 1);
  }, 1);
  const iterations = loopIterations(params.rank) + nestedIterations(terms, params.rank);
  return { bound, workgroups: gridFor(count, WORKGROUP_SIZE), iterations };
}

const normalise = (axis: number, rank: number, what: string) => {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank)
    throw new GradlensError('BAD_PARAMS', `${what}: axis ${axis} out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
};
const identity = (extent: number) => Array.from({ length: extent }, (_, i) => i);

/** ONNX Slice: per axis start, end, step (negative counted from the end, clamped as ONNX clamps). */
export function sliceMap(shape: readonly number[], slices: readonly { axis: number; start: number; end: number; step?: number }[]): IndexMap {
  const tables = shape.map(identity);
  for (const s of slices) {
    const d = normalise(s.axis, shape.length, 'Slice');
    const n = shape[d]!;
    const step = s.step ?? 1;
    if (step === 0 || !Number.isInteger(step)) throw new GradlensError('BAD_PARAMS', `Slice: step ${step} on axis ${d}`);
    const wrap = (v: number) => (v < 0 ? v + n : v);
    const [start, end] =
      step > 0 ? [clamp(wrap(s.start), 0, n), clamp(wrap(s.end), 0, n)] : [clamp(wrap(s.start), 0, n - 1), clamp(wrap(s.end), -1, n - 1)];
    const table: number[] = [];
    for (let i = start; step > 0 ? i < end : i > end; i += step) table.push(i);
    tables[d] = table;
  }
  return { inShape: shape, outShape: tables.map((t) => t.length), tables };
}

const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);

/** ONNX Split into the given extents along `axis`: one map per output. */
export function splitMaps(shape: readonly number[], axis: number, extents: readonly number[]): IndexMap[] {
  const d = normalise(axis, shape.length, 'Split');
  if (extents.reduce((a, b) => a + b, 0) !== shape[d])
    throw new GradlensError('BAD_PARAMS', `Split: extents [${extents}] do not add up to ${shape[d]} on axis ${d}`);
  let start = 0;
  return extents.map((extent) => {
    const map = sliceMap(shape, [{ axis: d, start, end: start + extent }]);
    start += extent;
    return map;
  });
}

/** ONNX Gather along `axis` by constant indices (negative counted from the end), the indices' axes as one. */
export function gatherMap(shape: readonly number[], axis: number, indices: ArrayLike<number>): IndexMap {
  const d = normalise(axis, shape.length, 'Gather');
  const n = shape[d]!;
  const table = Array.from(indices, (i) => {
    if (!Number.isInteger(i) || i < -n || i >= n) throw new GradlensError('BAD_PARAMS', `Gather: index ${i} out of range for extent ${n}`);
    return i < 0 ? i + n : i;
  });
  const tables = shape.map((extent, k) => (k === d ? table : identity(extent)));
  return { inShape: shape, outShape: tables.map((t) => t.length), tables };
}

/** ONNX Expand (numpy broadcasting of x to `target`, either side padded with 1s on the left). */
export function expandMap(shape: readonly number[], target: readonly number[]): IndexMap {
  const rank = Math.max(shape.length, target.length);
  const inShape = [...new Array<number>(rank - shape.length).fill(1), ...shape];
  const to = [...new Array<number>(rank - target.length).fill(1), ...target];
  const outShape = inShape.map((extent, d) => {
    if (extent !== to[d] && extent !== 1 && to[d] !== 1)
      throw new GradlensError('BAD_PARAMS', `Expand: [${shape}] does not broadcast to [${target}]`);
    return extent === 1 ? to[d]! : extent;
  });
  checkExtents('Expand', outShape);
  return { inShape, outShape, tables: outShape.map((extent, d) => Array.from({ length: extent }, (_, i) => (inShape[d] === 1 ? 0 : i))) };
}

/** Longest axis an index map tabulates: its tables are arrays of that length, made when a model is loaded. */
const MAX_EXTENT = 2 ** 24;

/** Refuses output extents no device holds before their tables are made (a hostile Expand to 2^31 ran out of memory). */
function checkExtents(op: string, outShape: readonly number[]): void {
  if (outShape.some((extent) => !Number.isSafeInteger(extent) || extent < 0 || extent > MAX_EXTENT)) {
    throw new GradlensError('BAD_MODEL', `${op}: output [${outShape.join(', ')}] has an axis longer than 2^24 or not a size`);
  }
}

/** ONNX Tile: axis d repeated repeats[d] times. */
export function tileMap(shape: readonly number[], repeats: readonly number[]): IndexMap {
  if (repeats.length !== shape.length || repeats.some((r) => !Number.isInteger(r) || r < 0))
    throw new GradlensError('BAD_PARAMS', `Tile: repeats [${repeats}] for [${shape}]`);
  checkExtents(
    'Tile',
    shape.map((extent, d) => extent * repeats[d]!),
  );
  const tables = shape.map((extent, d) => Array.from({ length: extent * repeats[d]! }, (_, i) => i % extent));
  return { inShape: shape, outShape: tables.map((t) => t.length), tables };
}

export const PAD_MODES = ['constant', 'reflect', 'edge'] as const;
export type PadMode = (typeof PAD_MODES)[number];

/** ONNX Pad: pads = [begin₀, begin₁, …, end₀, end₁, …] (negative crops), constant, reflect (mirror without the edge) or edge. */
export function padMap(shape: readonly number[], pads: readonly number[], mode: PadMode = 'constant', value = 0): IndexMap {
  const rank = shape.length;
  if (pads.length !== 2 * rank) throw new GradlensError('BAD_PARAMS', `Pad: ${pads.length} pads for rank ${rank}`);
  checkExtents(
    'Pad',
    shape.map((n, d) => Math.max(0, n + pads[d]! + pads[d + rank]!)),
  );
  const tables = shape.map((n, d) => {
    const [begin, end] = [pads[d]!, pads[d + rank]!];
    return Array.from({ length: Math.max(0, n + begin + end) }, (_, y) => {
      const x = y - begin;
      if (x >= 0 && x < n) return x;
      if (mode === 'constant') return -1;
      if (mode === 'edge') return clamp(x, 0, n - 1);
      if (n === 1) return 0;
      const period = 2 * (n - 1); // reflect: …, 2, 1, [0, 1, …, n−1], n−2, …
      const r = ((x % period) + period) % period;
      return r < n ? r : period - r;
    });
  });
  return { inShape: shape, outShape: tables.map((t) => t.length), tables, value };
}

/**
 * Embedding lookup: y = table[ids] along the table's first axis, ids (f32 integers) computed at run time; `rows` ×
 * `rowSize` is the table's shape folded to two axes.
 */
export async function lookupForward(
  context: GpuContext,
  io: { table: GPUBuffer; ids: GPUBuffer; y: GPUBuffer },
  dims: { ids: number; rows: number; rowSize: number },
): Promise<Dispatch> {
  const kernel = await context.kernels.kernel('gather', 'gather_lookup_forward', { WORKGROUP_SIZE });
  const lookup = { count: dims.ids * dims.rowSize, rows: dims.rows, row_size: dims.rowSize };
  return {
    bound: kernel.bind(context.device, { lookup, source: io.table, ids: io.ids, destination: io.y }),
    workgroups: gridFor(lookup.count, WORKGROUP_SIZE),
    iterations: 0,
  };
}

/** The ids' gradient: zero (a lookup is constant between integers), written so the buffer holds no stale values. */
export async function lookupZeroGradient(context: GpuContext, io: { gradIds: GPUBuffer }, dims: { ids: number }): Promise<Dispatch> {
  const kernel = await context.kernels.kernel('gather', 'gather_lookup_zero', { WORKGROUP_SIZE });
  const lookup = { count: dims.ids, rows: 0, row_size: 1 };
  return { bound: kernel.bind(context.device, { lookup, destination: io.gradIds }), workgroups: gridFor(dims.ids, WORKGROUP_SIZE), iterations: 0 };
}
