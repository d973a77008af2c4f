import { GradlensError } from '../gpu/errors.ts';

export const INTEGRATION_RULES = ['gausslegendre', 'riemann_left', 'riemann_right', 'riemann_middle', 'riemann_trapezoid'] as const;
export type IntegrationRule = (typeof INTEGRATION_RULES)[number];

/**
 * Nodes α_k ∈ [0, 1] and weights w_k of ∫₀¹ g(α) dα ≈ Σ w_k g(α_k), as Captum 0.8 defines each rule
 * (captum/attr/_utils/approximation_methods.py), so results compare one to one:
 * Gauss–Legendre mapped from [−1, 1], rounded to float32 as Captum's tensors are; `riemann_trapezoid` is Captum's
 * (linspace(0, 1, n), weights 1/n with both ends halved, summing to (n − 1)/n), not the textbook rule.
 */
export function quadrature(rule: IntegrationRule, steps: number): { alphas: Float32Array; weights: Float32Array } {
  if (!Number.isInteger(steps) || steps < 1) throw new GradlensError('BAD_PARAMS', `steps must be a positive integer, got ${steps}`);
  const n = steps;
  const make = (alpha: (k: number) => number, weight: (k: number) => number) => ({
    alphas: Float32Array.from({ length: n }, (_, k) => alpha(k)),
    weights: Float32Array.from({ length: n }, (_, k) => weight(k)),
  });
  switch (rule) {
    case 'riemann_left':
      return make(
        (k) => k / n,
        () => 1 / n,
      );
    case 'riemann_right':
      return make(
        (k) => (k + 1) / n,
        () => 1 / n,
      );
    case 'riemann_middle':
      return make(
        (k) => (k + 0.5) / n,
        () => 1 / n,
      );
    case 'riemann_trapezoid':
      if (n < 2) throw new GradlensError('BAD_PARAMS', 'riemann_trapezoid needs at least 2 steps');
      return make(
        (k) => k / (n - 1),
        (k) => (k === 0 || k === n - 1 ? 0.5 / n : 1 / n),
      );
    case 'gausslegendre': {
      const { nodes, weights } = gaussLegendre(n);
      return make(
        (k) => 0.5 * (nodes[k]! + 1),
        (k) => 0.5 * weights[k]!,
      );
    }
    default:
      throw new GradlensError('BAD_PARAMS', `unknown integration rule "${rule as string}" (use ${INTEGRATION_RULES.join(', ')})`);
  }
}

/** Gauss–Legendre nodes (ascending) and weights on [−1, 1] by Newton's method on P_n (float64). */
export function gaussLegendre(n: number): { nodes: Float64Array; weights: Float64Array } {
  const nodes = new Float64Array(n);
  const weights = new Float64Array(n);
  for (let i = 0; i < Math.ceil(n / 2); i++) {
    let x = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let derivative = 0;
    for (let iteration = 0; iteration < 100; iteration++) {
      let [p0, p1] = [1, x];
      for (let k = 2; k <= n; k++) [p0, p1] = [p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k];
      if (n === 1) [p0, p1] = [1, x];
      derivative = (n * (x * p1 - p0)) / (x * x - 1);
      const step = p1 / derivative;
      x -= step;
      if (Math.abs(step) < 1e-16) break;
    }
    const weight = 2 / ((1 - x * x) * derivative * derivative);
    nodes[i] = -x;
    nodes[n - 1 - i] = x;
    weights[i] = weights[n - 1 - i] = weight;
  }
  return { nodes, weights };
}
