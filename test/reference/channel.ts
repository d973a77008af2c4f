// Plain float64 reference of shaders/channel.wgsl: ONNX BatchNormalization in inference mode (training_mode = 0),
// y = γ (x − μ)/√(σ² + ε) + β per channel at axis 1, written from the definition rather than the folded form.
export interface BatchNormParams {
  gamma: ArrayLike<number>;
  beta: ArrayLike<number>;
  mean: ArrayLike<number>;
  variance: ArrayLike<number>;
  epsilon: number;
}

function channelOf(shape: readonly number[]): (i: number) => number {
  const spatial = shape.slice(2).reduce((n, e) => n * e, 1);
  return (i) => Math.floor(i / spatial) % shape[1]!;
}

export function batchNormForward(x: ArrayLike<number>, shape: readonly number[], p: BatchNormParams): Float64Array {
  const channel = channelOf(shape);
  return Float64Array.from(x, (v, i) => {
    const c = channel(i);
    return (p.gamma[c]! * (v - p.mean[c]!)) / Math.sqrt(p.variance[c]! + p.epsilon) + p.beta[c]!;
  });
}

/** dL/dx = dy·γ/√(σ² + ε): with fixed statistics the map is affine per channel. */
export function batchNormBackward(gradY: ArrayLike<number>, shape: readonly number[], p: BatchNormParams): Float64Array {
  const channel = channelOf(shape);
  return Float64Array.from(gradY, (g, i) => {
    const c = channel(i);
    return (g * p.gamma[c]!) / Math.sqrt(p.variance[c]! + p.epsilon);
  });
}
