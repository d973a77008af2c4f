// Plain float64 reference of shaders/layernorm.wgsl from ONNX LayerNormalization (opset 17): each of `rows` rows
// of `size` contiguous elements is normalised by its mean and population variance, then scaled by γ and shifted by β.

export interface LayerNormShape {
  rows: number;
  size: number;
  epsilon: number;
}

/** y = (x − μ)/√(σ² + ε) · γ + β, and per row μ and 1/√(σ² + ε) (ONNX's Mean and InvStdDev outputs). */
export function layerNormForward(x: ArrayLike<number>, scale: ArrayLike<number>, bias: ArrayLike<number> | undefined, shape: LayerNormShape) {
  const { rows, size, epsilon } = shape;
  const y = new Float64Array(rows * size);
  const mean = new Float64Array(rows);
  const invStdDev = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let mu = 0;
    for (let k = 0; k < size; k++) mu += x[r * size + k]!;
    mu /= size;
    let variance = 0;
    for (let k = 0; k < size; k++) variance += (x[r * size + k]! - mu) ** 2;
    const inv = 1 / Math.sqrt(variance / size + epsilon);
    for (let k = 0; k < size; k++) y[r * size + k] = (x[r * size + k]! - mu) * inv * scale[k]! + (bias ? bias[k]! : 0);
    mean[r] = mu;
    invStdDev[r] = inv;
  }
  return { y, mean, invStdDev };
}

/**
 * Input gradient (vector-Jacobian product) given the row statistics. With x̂ = (x − μ)·r, ∂x̂_j/∂x_i =
 * r (δ_ij − 1/D − x̂_i x̂_j / D), so for ĝ = dy ⊙ γ: dx_i = r (ĝ_i − mean(ĝ) − x̂_i · mean(ĝ ⊙ x̂)).
 */
export function layerNormBackward(
  x: ArrayLike<number>,
  scale: ArrayLike<number>,
  mean: ArrayLike<number>,
  invStdDev: ArrayLike<number>,
  dy: ArrayLike<number>,
  shape: LayerNormShape,
): Float64Array {
  const { rows, size } = shape;
  const dx = new Float64Array(rows * size);
  for (let r = 0; r < rows; r++) {
    const inv = invStdDev[r]!;
    const xHat = (k: number) => (x[r * size + k]! - mean[r]!) * inv;
    const g = (k: number) => dy[r * size + k]! * scale[k]!;
    let meanG = 0;
    let meanGX = 0;
    for (let k = 0; k < size; k++) {
      meanG += g(k) / size;
      meanGX += (g(k) * xHat(k)) / size;
    }
    for (let k = 0; k < size; k++) dx[r * size + k] = inv * (g(k) - meanG - xHat(k) * meanGX);
  }
  return dx;
}

/** ONNX GroupNormalization (InstanceNormalization: groups = channels): y = γ_c (x − μ_ng)/√(σ²_ng + ε) + β_c, per sample n and group g. */
export interface GroupNormShape {
  shape: readonly number[];
  groups: number;
  epsilon: number;
}

function groupRows(s: GroupNormShape) {
  const count = s.shape.reduce((a, b) => a * b, 1);
  const rows = s.shape[0]! * s.groups;
  const channels = s.shape[1]!;
  const spatial = count / (s.shape[0]! * channels);
  return { rows: { rows, size: count / rows, epsilon: s.epsilon }, channelOf: (i: number) => Math.floor(i / spatial) % channels };
}

/** γ and β per channel. */
export function groupNormForward(x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, s: GroupNormShape): Float64Array {
  const { rows, channelOf } = groupRows(s);
  const { y } = layerNormForward(x, new Float64Array(rows.size).fill(1), undefined, rows);
  return y.map((v, i) => v * gamma[channelOf(i)]! + beta[channelOf(i)]!);
}

/** The chain rule through the affine: the normalisation's backward of dy·γ_c. */
export function groupNormBackward(x: ArrayLike<number>, gamma: ArrayLike<number>, dy: ArrayLike<number>, s: GroupNormShape): Float64Array {
  const { rows, channelOf } = groupRows(s);
  const ones = new Float64Array(rows.size).fill(1);
  const { mean, invStdDev } = layerNormForward(x, ones, undefined, rows);
  return layerNormBackward(
    x,
    ones,
    mean,
    invStdDev,
    Float64Array.from(dy, (g, i) => g * gamma[channelOf(i)]!),
    rows,
  );
}
