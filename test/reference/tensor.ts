// Plain float64 references of shaders/tensor.wgsl, from the ONNX definitions of Transpose, Concat and ReduceMean,
// each element located by its multi-index (no strides shared with the kernels).
const count = (shape: readonly number[]) => shape.reduce((n, e) => n * e, 1);

/** Calls visit(multiIndex, flatIndex) for every element of shape in row-major order. */
function eachIndex(shape: readonly number[], visit: (index: readonly number[], flat: number) => void): void {
  const index = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < count(shape); flat++) {
    visit(index, flat);
    for (let d = shape.length - 1; d >= 0 && ++index[d]! === shape[d]; d--) index[d] = 0;
  }
}

const flatOf = (index: readonly number[], shape: readonly number[]) => index.reduce((n, i, d) => n * shape[d]! + i, 0);

/** y[i₀, …, i_{r−1}] = x[j] with j[perm[k]] = i_k. */
export function transpose(x: ArrayLike<number>, shape: readonly number[], perm: readonly number[]): Float64Array {
  const yShape = perm.map((p) => shape[p]!);
  const y = new Float64Array(count(shape));
  eachIndex(yShape, (index, flat) => {
    const source = new Array<number>(shape.length);
    perm.forEach((p, k) => (source[p] = index[k]!));
    y[flat] = x[flatOf(source, shape)]!;
  });
  return y;
}

/** Transpose moves each element once, so dx[j] = dy at the element j moved to. */
export function transposeBackward(gradY: ArrayLike<number>, shape: readonly number[], perm: readonly number[]): Float64Array {
  const yShape = perm.map((p) => shape[p]!);
  const gradX = new Float64Array(count(shape));
  eachIndex(
    shape,
    (index, flat) =>
      (gradX[flat] =
        gradY[
          flatOf(
            perm.map((p) => index[p]!),
            yShape,
          )
        ]!),
  );
  return gradX;
}

export function concat(inputs: readonly ArrayLike<number>[], shapes: readonly (readonly number[])[], axis: number): Float64Array {
  const a = axis < 0 ? axis + shapes[0]!.length : axis;
  const yShape = shapes[0]!.map((e, d) => (d === a ? shapes.reduce((n, s) => n + s[d]!, 0) : e));
  const y = new Float64Array(count(yShape));
  let start = 0;
  shapes.forEach((shape, k) => {
    eachIndex(
      shape,
      (index, flat) =>
        (y[
          flatOf(
            index.map((i, d) => (d === a ? i + start : i)),
            yShape,
          )
        ] = inputs[k]![flat]!),
    );
    start += shape[a]!;
  });
  return y;
}

/** Each input's gradient: the part of dy where its elements went. */
export function concatBackward(gradY: ArrayLike<number>, shapes: readonly (readonly number[])[], axis: number): Float64Array[] {
  const a = axis < 0 ? axis + shapes[0]!.length : axis;
  const yShape = shapes[0]!.map((e, d) => (d === a ? shapes.reduce((n, s) => n + s[d]!, 0) : e));
  let start = 0;
  return shapes.map((shape) => {
    const gradX = new Float64Array(count(shape));
    eachIndex(
      shape,
      (index, flat) =>
        (gradX[flat] =
          gradY[
            flatOf(
              index.map((i, d) => (d === a ? i + start : i)),
              yShape,
            )
          ]!),
    );
    start += shape[a]!;
    return gradX;
  });
}

function reduced(shape: readonly number[], axes: readonly number[]): Set<number> {
  return new Set(axes.length ? axes.map((a) => (a < 0 ? a + shape.length : a)) : shape.map((_, d) => d));
}

export type Reduction = 'mean' | 'sum' | 'l2' | 'max' | 'min' | 'l1' | 'sum-square';

/** Each output's inputs (flat x indices), in x order; keepdims only changes the shape, so outputs are the same array. */
function groups(shape: readonly number[], axes: readonly number[]): number[][] {
  const r = reduced(shape, axes);
  const keptShape = shape.map((e, d) => (r.has(d) ? 1 : e));
  const members = Array.from({ length: count(keptShape) }, () => [] as number[]);
  eachIndex(shape, (index, flat) =>
    members[
      flatOf(
        index.map((i, d) => (r.has(d) ? 0 : i)),
        keptShape,
      )
    ]!.push(flat),
  );
  return members;
}

/** ONNX ReduceMean, ReduceSum, ReduceL2 (√Σx²), ReduceMax, ReduceMin, ReduceL1 (Σ|x|), ReduceSumSquare over the axes (all when empty). */
export function reduce(op: Reduction, x: ArrayLike<number>, shape: readonly number[], axes: readonly number[]): Float64Array {
  return Float64Array.from(groups(shape, axes), (group) => {
    const v = group.map((i) => x[i]!);
    const sum = v.reduce((a, b) => a + b, 0);
    if (op === 'mean') return sum / v.length;
    if (op === 'sum') return sum;
    if (op === 'l2') return Math.sqrt(v.reduce((a, b) => a + b * b, 0));
    if (op === 'l1') return v.reduce((a, b) => a + Math.abs(b), 0);
    if (op === 'sum-square') return v.reduce((a, b) => a + b * b, 0);
    return op === 'max' ? Math.max(...v) : Math.min(...v);
  });
}

/** dx: dy of the output it took part in (over n for the mean), times x/y for L2, split evenly among equal extremes. */
export function reduceBackward(
  op: Reduction,
  x: ArrayLike<number>,
  gradY: ArrayLike<number>,
  shape: readonly number[],
  axes: readonly number[],
): Float64Array {
  const y = reduce(op, x, shape, axes);
  const gradX = new Float64Array(count(shape));
  groups(shape, axes).forEach((group, o) => {
    const ties = group.filter((i) => x[i] === y[o]).length;
    for (const i of group) {
      if (op === 'mean') gradX[i] = gradY[o]! / group.length;
      else if (op === 'sum') gradX[i] = gradY[o]!;
      else if (op === 'l2') gradX[i] = y[o] === 0 ? 0 : (gradY[o]! * x[i]!) / y[o]!;
      else if (op === 'l1') gradX[i] = gradY[o]! * Math.sign(x[i]!);
      else if (op === 'sum-square') gradX[i] = 2 * gradY[o]! * x[i]!;
      else gradX[i] = x[i] === y[o] ? gradY[o]! / ties : 0;
    }
  });
  return gradX;
}

export const reduceMean = (x: ArrayLike<number>, shape: readonly number[], axes: readonly number[]) => reduce('mean', x, shape, axes);

/** The mean's backward reads no x. */
export const reduceMeanBackward = (gradY: ArrayLike<number>, shape: readonly number[], axes: readonly number[]) =>
  reduceBackward('mean', new Float64Array(count(shape)), gradY, shape, axes);
