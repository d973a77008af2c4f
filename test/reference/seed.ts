// Plain float64 reference of shaders/seed.wgsl: the gradient seed at a classifier's output, from the definitions.
// Per sample n the score is the target's logit x_t, its softmax probability p_t, or log p_t; L = Σ_n score_n.
export type SeedScore = 'logit' | 'probability' | 'log-probability';

/** The class a target names: itself, or for −1 the row's argmax (the first maximum on ties, as NumPy and PyTorch). */
export function resolveTarget(row: ArrayLike<number>, target: number): number {
  if (target !== -1) return target;
  let best = 0;
  for (let k = 1; k < row.length; k++) if (row[k]! > row[best]!) best = k;
  return best;
}

function softmax(row: ArrayLike<number>): Float64Array {
  const m = Math.max(...Array.from(row));
  const e = Float64Array.from(row, (v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

const rowOf = (logits: ArrayLike<number>, k: number, n: number) => Array.from({ length: k }, (_, j) => logits[n * k + j]!);

/** score_n for each sample: the function whose gradient the seed is. */
export function seedScores(score: SeedScore, logits: ArrayLike<number>, targets: readonly number[], k: number): Float64Array {
  return Float64Array.from(targets, (target, n) => {
    const row = rowOf(logits, k, n);
    const t = resolveTarget(row, target);
    if (score === 'logit') return row[t]!;
    if (score === 'probability') return softmax(row)[t]!;
    const m = Math.max(...row); // log p_t = x_t − m − log Σ exp(x − m): no underflow of p_t
    return row[t]! - m - Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
  });
}

/** dL/dlogits: δ_t (logit), p_t (δ_t − p) (probability: ∂p_t/∂x_j = p_t (δ_tj − p_j)), δ_t − p (log-probability). */
export function seedGradient(score: SeedScore, logits: ArrayLike<number>, targets: readonly number[], k: number) {
  const gradient = new Float64Array(targets.length * k);
  const resolved = targets.map((target, n) => resolveTarget(rowOf(logits, k, n), target));
  resolved.forEach((t, n) => {
    const p = softmax(rowOf(logits, k, n));
    for (let j = 0; j < k; j++) {
      const onehot = j === t ? 1 : 0;
      gradient[n * k + j] = score === 'logit' ? onehot : score === 'probability' ? p[t]! * (onehot - p[j]!) : onehot - p[j]!;
    }
  });
  return { gradient, resolved, scores: seedScores(score, logits, targets, k) };
}
