// Plain float64 reference of shaders/gemm.wgsl, from the definitions of ONNX Gemm (C = alpha·A'·B' + beta·C,
// C broadcast unidirectionally) and MatMul (numpy matmul, batch broadcast): the test oracle, not the kernel.

export interface GemmCase {
  m: number;
  n: number;
  k: number;
  batch: number;
  transA: boolean;
  transB: boolean;
  alpha: number;
  /** Floats between batches; 0 broadcasts the operand over the batch. */
  aBatchStride: number;
  bBatchStride: number;
  /** Bias shape, broadcast right-aligned to [batch, m, n]; absent means no bias. */
  biasShape?: readonly number[];
  beta: number;
  relu: boolean;
}

/** Storage index of op(A)[z][i][kk] and op(B)[z][kk][j]. */
const aIndex = (d: GemmCase, z: number, i: number, kk: number) => z * d.aBatchStride + (d.transA ? kk * d.m + i : i * d.k + kk);
const bIndex = (d: GemmCase, z: number, kk: number, j: number) => z * d.bBatchStride + (d.transB ? j * d.k + kk : kk * d.n + j);

/** Floats an operand buffer needs: one matrix when broadcast, else one per batch. */
export const operandSize = (rows: number, cols: number, batchStride: number, batch: number) => rows * cols * (batchStride === 0 ? 1 : batch);

/** bias[z, i, j] under numpy broadcasting of biasShape to [batch, m, n]. */
function biasAt(d: GemmCase, bias: ArrayLike<number>, z: number, i: number, j: number): number {
  const shape = [...Array<number>(3 - d.biasShape!.length).fill(1), ...d.biasShape!];
  const index = [z, i, j].map((v, axis) => (shape[axis] === 1 ? 0 : v));
  return bias[(index[0]! * shape[1]! + index[1]!) * shape[2]! + index[2]!]!;
}

/** C = act(alpha·op(A)·op(B) + beta·bias), shape [batch, m, n]; with `initial`, C = initial + that. */
export function gemmForward(
  d: GemmCase,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  bias?: ArrayLike<number>,
  initial?: ArrayLike<number>,
): Float64Array {
  const c = new Float64Array(d.batch * d.m * d.n);
  for (let z = 0; z < d.batch; z++) {
    for (let i = 0; i < d.m; i++) {
      for (let j = 0; j < d.n; j++) {
        let sum = 0;
        for (let kk = 0; kk < d.k; kk++) sum += a[aIndex(d, z, i, kk)]! * b[bIndex(d, z, kk, j)]!;
        let v = d.alpha * sum + (d.biasShape ? d.beta * biasAt(d, bias!, z, i, j) : 0);
        if (d.relu) v = Math.max(v, 0);
        const index = (z * d.m + i) * d.n + j;
        c[index] = v + (initial ? initial[index]! : 0);
      }
    }
  }
  return c;
}

/**
 * Gradients of L = Σ gradC·C (without activation) for A and B, in their storage layouts: ∂C[z,i,j]/∂op(A)[z,i,kk]
 * = alpha·op(B)[z,kk,j] and ∂C[z,i,j]/∂op(B)[z,kk,j] = alpha·op(A)[z,i,kk]. Summing into the storage index makes a
 * broadcast operand (stride 0) collect every batch's term.
 */
export function gemmBackward(
  d: GemmCase,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  gradC: ArrayLike<number>,
): { gradA: Float64Array; gradB: Float64Array } {
  const gradA = new Float64Array(operandSize(d.m, d.k, d.aBatchStride, d.batch));
  const gradB = new Float64Array(operandSize(d.k, d.n, d.bBatchStride, d.batch));
  for (let z = 0; z < d.batch; z++) {
    for (let i = 0; i < d.m; i++) {
      for (let j = 0; j < d.n; j++) {
        const g = d.alpha * gradC[(z * d.m + i) * d.n + j]!;
        for (let kk = 0; kk < d.k; kk++) {
          gradA[aIndex(d, z, i, kk)]! += g * b[bIndex(d, z, kk, j)]!;
          gradB[bIndex(d, z, kk, j)]! += g * a[aIndex(d, z, i, kk)]!;
        }
      }
    }
  }
  return { gradA, gradB };
}
