// Plain float64 reference of shaders/softmax.wgsl from ONNX Softmax / LogSoftmax (opset 13): one axis, the
// tensor seen as (outer, axis, inner) with element (o, k, i) at (o·axis + k)·inner + i.
export type SoftmaxOp = 'softmax' | 'log-softmax';

export interface SoftmaxShape {
  outer: number;
  axis: number;
  inner: number;
}

function eachRow(shape: SoftmaxShape, visit: (index: (k: number) => number) => void): void {
  for (let o = 0; o < shape.outer; o++) {
    for (let i = 0; i < shape.inner; i++) visit((k) => (o * shape.axis + k) * shape.inner + i);
  }
}

/** softmax(x)_k = exp(x_k) / Σ_j exp(x_j); log-softmax = log of it; computed with the row maximum subtracted. */
export function softmaxForward(op: SoftmaxOp, x: ArrayLike<number>, shape: SoftmaxShape): Float64Array {
  const y = new Float64Array(x.length);
  eachRow(shape, (at) => {
    let m = -Infinity;
    for (let k = 0; k < shape.axis; k++) m = Math.max(m, x[at(k)]!);
    let s = 0;
    for (let k = 0; k < shape.axis; k++) s += Math.exp(x[at(k)]! - m);
    for (let k = 0; k < shape.axis; k++) y[at(k)] = op === 'softmax' ? Math.exp(x[at(k)]! - m) / s : x[at(k)]! - m - Math.log(s);
  });
  return y;
}

/**
 * Input gradient from the output y and upstream gradient dy (vector-Jacobian product):
 * softmax J = diag(y) − y yᵀ gives y ⊙ (dy − Σ dy⊙y); log-softmax J = I − 1·softmaxᵀ gives dy − exp(y)·Σ dy.
 */
export function softmaxBackward(op: SoftmaxOp, y: ArrayLike<number>, dy: ArrayLike<number>, shape: SoftmaxShape): Float64Array {
  const dx = new Float64Array(y.length);
  eachRow(shape, (at) => {
    let s = 0;
    for (let k = 0; k < shape.axis; k++) s += op === 'softmax' ? dy[at(k)]! * y[at(k)]! : dy[at(k)]!;
    for (let k = 0; k < shape.axis; k++) {
      const j = at(k);
      dx[j] = op === 'softmax' ? y[j]! * (dy[j]! - s) : dy[j]! - Math.exp(y[j]!) * s;
    }
  });
  return dx;
}
