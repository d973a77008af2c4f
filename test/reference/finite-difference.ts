/**
 * Central finite differences in float64 of L(x) = Σ_j seed_j · f(x)_j with respect to x:
 * the gradient a correct backward pass must give for upstream gradient `seed`.
 * Error O(h²·f''') plus rounding ~1e-16/h: with h = 1e-5 about 1e-9 on smooth functions of order 1.
 */
export function numericGradient(f: (x: Float64Array) => ArrayLike<number>, x: ArrayLike<number>, seed: ArrayLike<number>, h = 1e-5): Float64Array {
  const point = Float64Array.from(x);
  const gradient = new Float64Array(point.length);
  const loss = () => {
    const y = f(point);
    let sum = 0;
    for (let j = 0; j < y.length; j++) sum += seed[j]! * y[j]!;
    return sum;
  };
  for (let i = 0; i < point.length; i++) {
    const keep = point[i]!;
    point[i] = keep + h;
    const up = loss();
    point[i] = keep - h;
    const down = loss();
    point[i] = keep;
    gradient[i] = (up - down) / (2 * h);
  }
  return gradient;
}
