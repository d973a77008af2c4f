// Plain float64 reference of shaders/binary.wgsl, from the ONNX definitions of Add, Sub, Mul, Div, Min, Max and PRelu
// with numpy broadcasting. The backward scatters each output's partials onto the inputs it was broadcast from.
export const BINARY_OPS = ['add', 'sub', 'mul', 'div', 'min', 'max', 'prelu'] as const;
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

/** For each output element in order, the flat indices of the a and b elements it reads. */
function broadcastPairs(aShape: readonly number[], bShape: readonly number[]): [number, number][] {
  const out = outputShape(aShape, bShape);
  const p = padded(aShape, out.length);
  const q = padded(bShape, out.length);
  const pairs: [number, number][] = [];
  const index = new Array<number>(out.length).fill(0);
  const count = out.reduce((n, e) => n * e, 1);
  for (let i = 0; i < count; i++) {
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < out.length; d++) {
      ia = ia * p[d]! + (p[d] === 1 ? 0 : index[d]!);
      ib = ib * q[d]! + (q[d] === 1 ? 0 : index[d]!);
    }
    pairs.push([ia, ib]);
    for (let d = out.length - 1; d >= 0 && ++index[d]! === out[d]; d--) index[d] = 0;
  }
  return pairs;
}

function apply(op: BinaryOp, u: number, v: number): number {
  switch (op) {
    case 'add': return u + v;
    case 'sub': return u - v;
    case 'mul': return u * v;
    case 'div': return u / v;
    case 'min': return Math.min(u, v);
    case 'max': return Math.max(u, v);
    case 'prelu': return u >= 0 ? u : v * u;
  }
}

export function binaryForward(op: BinaryOp, a: Tensor, b: Tensor): Float64Array {
  return Float64Array.from(broadcastPairs(a.shape, b.shape), ([ia, ib]) => apply(op, a.data[ia]!, b.data[ib]!));
}

/** ∂y/∂a and ∂y/∂b at one element. Min and Max split a tie evenly: the mean of the one-sided derivatives. */
function partials(op: BinaryOp, u: number, v: number): [number, number] {
  switch (op) {
    case 'add': return [1, 1];
    case 'sub': return [1, -1];
    case 'mul': return [v, u];
    case 'div': return [1 / v, -u / (v * v)];
    case 'min': return u === v ? [0.5, 0.5] : u < v ? [1, 0] : [0, 1];
    case 'max': return u === v ? [0.5, 0.5] : u > v ? [1, 0] : [0, 1];
    case 'prelu': return u >= 0 ? [1, 0] : [v, u];
  }
}

/** dL/da and dL/db for upstream gradient gradY. */
export function binaryBackward(op: BinaryOp, a: Tensor, b: Tensor, gradY: ArrayLike<number>): { gradA: Float64Array; gradB: Float64Array } {
  const gradA = new Float64Array(a.data.length);
  const gradB = new Float64Array(b.data.length);
  broadcastPairs(a.shape, b.shape).forEach(([ia, ib], i) => {
    const g = gradY[i]!;
    const u = a.data[ia]!;
    const v = b.data[ib]!;
    const [da, db] = partials(op, u, v);
    gradA[ia]! += g * da;
    gradB[ib]! += g * db;
  });
  return { gradA, gradB };
}
