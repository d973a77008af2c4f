/** Gini index of |a| (Chalasani 2020's sparseness, as Quantus): 0 for a uniform map, (n − 1)/n for a single spike. */
export function sparseness(attribution: ArrayLike<number>): number {
  const values = Float64Array.from(attribution, Math.abs).sort();
  const n = values.length;
  const total = values.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  let weighted = 0;
  for (let k = 0; k < n; k++) weighted += (2 * (k + 1) - n - 1) * values[k]!;
  return weighted / (n * total);
}

/** Entropy (nats) of the fractional contributions |a_i| / Σ|a| (Bhatt 2020's complexity): log n uniform, 0 a spike. */
export function complexity(attribution: ArrayLike<number>): number {
  let total = 0;
  for (let k = 0; k < attribution.length; k++) total += Math.abs(attribution[k]!);
  if (total === 0) return 0;
  let entropy = 0;
  for (let k = 0; k < attribution.length; k++) {
    const p = Math.abs(attribution[k]!) / total;
    if (p > 0) entropy -= p * Math.log(p);
  }
  return entropy;
}
