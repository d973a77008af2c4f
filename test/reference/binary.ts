// Plain float64 reference of shaders/binary.wgsl, from the ONNX definitions of Add, Sub, Mul, Div, Min, Max, PRelu and
// Where (a condition choosing a or b) with numpy broadcasting. The backward scatters each output's partials onto the inputs it was broadcast from.
export const BINARY_OPS = ['add', 'sub', 'mul', 'div', 'min', 'max', 'prelu', 'where'] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

export interface Tensor {
  shape: readonly number[];
  data: ArrayLike<number>;
}

const padded = (shape: readonly number[], rank: number) => [...new Array<number>(rank - shape.length).fill(1), ...shape];

export function outputShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const p = padded(a, rank);
  const q = padded(b, rank);
  return p.map((extent, d) => Math.max(extent, q[d]!));
}

/** For each output element in order, the flat indices of the elements of each shape it reads. */
function broadcastIndices(...shapes: (readonly number[])[]): number[][] {
  const out = shapes.reduce((o, s) => outputShape(o, s), [] as number[]);
  const padding = shapes.map((s) => padded(s, out.length));
  const result: number[][] = [];
  const index = new Array<number>(out.length).fill(0);
  const count = out.reduce((n, e) => n * e, 1);
  for (let i = 0; i < count; i++) {
    result.push(padding.map((p) => p.reduce((flat, extent, d) => flat * extent + (extent === 1 ? 0 : index[d]!), 0)));
    for (let d = out.length - 1; d >= 0 && ++index[d]! === out[d]; d--) index[d] = 0;
  }
  return result;
}

function apply(op: BinaryOp, u: number, v: number, c: number): number {
  switch (op) {
    case 'where':
      return c !== 0 ? u : v;
    case 'add':
      return u + v;
    case 'sub':
      return u - v;
    case 'mul':
      return u * v;
    case 'div':
      return u / v;
    case 'min':
      return Math.min(u, v);
    case 'max':
      return Math.max(u, v);
    case 'prelu':
      return u >= 0 ? u : v * u;
  }
}

/** Where's condition defaults to all true, shaped like a. */
export function binaryForward(op: BinaryOp, a: Tensor, b: Tensor, condition: Tensor = { shape: a.shape, data: [] }): Float64Array {
  return Float64Array.from(broadcastIndices(a.shape, b.shape, condition.shape), ([ia, ib, ic]) =>
    apply(op, a.data[ia!]!, b.data[ib!]!, condition.data[ic!] ?? 1),
  );
}

/** ∂y/∂a and ∂y/∂b at one element. Min and Max split a tie evenly: the mean of the one-sided derivatives. */
function partials(op: BinaryOp, u: number, v: number, c: number): [number, number] {
  switch (op) {
    case 'where':
      return c !== 0 ? [1, 0] : [0, 1];
    case 'add':
      return [1, 1];
    case 'sub':
      return [1, -1];
    case 'mul':
      return [v, u];
    case 'div':
      return [1 / v, -u / (v * v)];
    case 'min':
      return u === v ? [0.5, 0.5] : u < v ? [1, 0] : [0, 1];
    case 'max':
      return u === v ? [0.5, 0.5] : u > v ? [1, 0] : [0, 1];
    case 'prelu':
      return u >= 0 ? [1, 0] : [v, u];
  }
}

/** dL/da and dL/db for upstream gradient gradY. */
export function binaryBackward(
  op: BinaryOp,
  a: Tensor,
  b: Tensor,
  gradY: ArrayLike<number>,
  condition: Tensor = { shape: a.shape, data: [] },
): { gradA: Float64Array; gradB: Float64Array } {
  const gradA = new Float64Array(a.data.length);
  const gradB = new Float64Array(b.data.length);
  broadcastIndices(a.shape, b.shape, condition.shape).forEach(([ia, ib, ic], i) => {
    const g = gradY[i]!;
    const [da, db] = partials(op, a.data[ia!]!, b.data[ib!]!, condition.data[ic!] ?? 1);
    gradA[ia!]! += g * da;
    gradB[ib!]! += g * db;
  });
  return { gradA, gradB };
}
