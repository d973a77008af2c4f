// Plain float64 reference of shaders/gather.wgsl, from the ONNX definitions of Slice, Split, Gather, Expand, Tile and
// Pad: each op as the flat x index every output element reads (−1: Pad's constant), found by walking the output's
// multi-index as the spec says; the backward is its transpose, a scatter-add (the kernel gathers instead).
export interface Moved {
  shape: number[];
  sources: Int32Array;
}

const strides = (shape: readonly number[]) => shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));

/** Every multi-index of `shape` in row-major order, mapped to an x index (or −1) by `source`. */
function walk(shape: number[], xShape: readonly number[], source: (index: number[]) => (number | null)[]): Moved {
  const count = shape.reduce((a, b) => a * b, 1);
  const xStrides = strides(xShape);
  const sources = new Int32Array(count);
  const index = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < count; i++) {
    const at = source(index);
    sources[i] = at.some((v) => v === null) ? -1 : at.reduce<number>((sum, v, d) => sum + v! * xStrides[d]!, 0);
    for (let d = shape.length - 1; d >= 0 && ++index[d]! === shape[d]; d--) index[d] = 0;
  }
  return { shape, sources };
}

export function forward(moved: Moved, x: ArrayLike<number>, value = 0): Float64Array {
  return Float64Array.from(moved.sources, (s) => (s < 0 ? value : x[s]!));
}

export function backward(moved: Moved, gradY: ArrayLike<number>, xCount: number): Float64Array {
  const gradX = new Float64Array(xCount);
  moved.sources.forEach((s, i) => {
    if (s >= 0) gradX[s]! += gradY[i]!;
  });
  return gradX;
}

/** Slice: on each listed axis, start + k·step while before end (ONNX's clamping of start and end). */
export function slice(x: readonly number[], starts: number[], ends: number[], axes: number[], steps: number[]): Moved {
  const begin = x.map(() => 0);
  const step = x.map(() => 1);
  const shape = [...x];
  axes.forEach((a, k) => {
    const d = a < 0 ? a + x.length : a;
    const n = x[d]!;
    const s = steps[k]!;
    let b = starts[k]! < 0 ? starts[k]! + n : starts[k]!;
    let e = ends[k]! < 0 ? ends[k]! + n : ends[k]!;
    b = s > 0 ? Math.min(Math.max(b, 0), n) : Math.min(Math.max(b, 0), n - 1);
    e = s > 0 ? Math.min(Math.max(e, 0), n) : Math.min(Math.max(e, -1), n - 1);
    begin[d] = b;
    step[d] = s;
    shape[d] = Math.max(0, Math.ceil((e - b) / s));
  });
  return walk(shape, x, (index) => index.map((i, d) => begin[d]! + i * step[d]!));
}

/** Gather: out = x.shape[:axis] + indices.shape + x.shape[axis+1:], reading x at indices[j] on the axis. */
export function gather(x: readonly number[], axis: number, indices: number[], indicesShape: number[]): Moved {
  const d = axis < 0 ? axis + x.length : axis;
  const r = indicesShape.length;
  const shape = [...x.slice(0, d), ...indicesShape, ...x.slice(d + 1)];
  const flat = (index: number[]) => index.slice(d, d + r).reduce((sum, v, k) => sum * indicesShape[k]! + v, 0);
  return walk(shape, x, (index) => {
    const i = indices[flat(index)]!;
    return [...index.slice(0, d), i < 0 ? i + x[d]! : i, ...index.slice(d + r)];
  });
}

/** Expand: numpy broadcasting of x to the target shape. */
export function expand(x: readonly number[], target: readonly number[]): Moved {
  const rank = Math.max(x.length, target.length);
  const xs = [...new Array<number>(rank - x.length).fill(1), ...x];
  const to = [...new Array<number>(rank - target.length).fill(1), ...target];
  const shape = xs.map((n, d) => Math.max(n, to[d]!));
  return walk(shape, xs, (index) => index.map((i, d) => (xs[d] === 1 ? 0 : i)));
}

export function tile(x: readonly number[], repeats: number[]): Moved {
  return walk(
    x.map((n, d) => n * repeats[d]!),
    x,
    (index) => index.map((i, d) => i % x[d]!),
  );
}

/** Pad: constant (null: the value), edge (nearest edge element) or reflect (mirrored about the edge element). */
export function pad(x: readonly number[], pads: number[], mode: 'constant' | 'reflect' | 'edge'): Moved {
  const rank = x.length;
  const shape = x.map((n, d) => n + pads[d]! + pads[d + rank]!);
  return walk(shape, x, (index) =>
    index.map((i, d) => {
      const n = x[d]!;
      let v = i - pads[d]!;
      if (v >= 0 && v < n) return v;
      if (mode === 'constant') return null;
      if (mode === 'edge') return Math.min(Math.max(v, 0), n - 1);
      if (n === 1) return 0;
      while (v < 0 || v >= n) v = v < 0 ? -v : 2 * (n - 1) - v; // reflect until inside
      return v;
    }),
  );
}
