// Plain float64 reference of shaders/activation.wgsl: the test oracle, written from the definitions, not from the kernel.
export const ACTIVATIONS = ['relu', 'leaky-relu', 'clip', 'sigmoid', 'tanh', 'gelu-erf', 'gelu-tanh'] as const;
export type Activation = (typeof ACTIVATIONS)[number];
export type ReluRule = 'standard' | 'guided-backprop' | 'deconvnet';

export interface ActivationParams {
  alpha: number;
  beta: number;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const gaussianCdf = (v: number) => 0.5 * (1 + erf(v / Math.SQRT2));
const gaussianPdf = (v: number) => Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI);
const K = Math.sqrt(2 / Math.PI);

/** erf by its Maclaurin series (|v| < 3) or continued fraction: accurate to ~1e-15, independent of the kernel's approximation. */
export function erf(v: number): number {
  const a = Math.abs(v);
  if (a > 6) return Math.sign(v);
  if (a < 3) {
    let sum = 0;
    let term = a;
    for (let n = 0; n < 200; n++) {
      sum += term / (2 * n + 1);
      term *= (-a * a) / (n + 1);
    }
    return Math.sign(v) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  let fraction = 0;
  for (let n = 60; n >= 1; n--) fraction = (n / 2) / (a + fraction);
  return Math.sign(v) * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + fraction));
}

export function forward(op: Activation, v: number, p: ActivationParams): number {
  switch (op) {
    case 'relu': return Math.max(v, 0);
    case 'leaky-relu': return v >= 0 ? v : p.alpha * v;
    case 'clip': return Math.min(Math.max(v, p.alpha), p.beta);
    case 'sigmoid': return sigmoid(v);
    case 'tanh': return Math.tanh(v);
    case 'gelu-erf': return v * gaussianCdf(v);
    case 'gelu-tanh': return 0.5 * v * (1 + Math.tanh(K * (v + 0.044715 * v ** 3)));
  }
}

/** Input gradient given the forward input v and upstream gradient g. */
export function backward(op: Activation, v: number, g: number, p: ActivationParams, rule: ReluRule = 'standard'): number {
  switch (op) {
    case 'relu':
      if (rule === 'guided-backprop') return v > 0 && g > 0 ? g : 0;
      if (rule === 'deconvnet') return Math.max(g, 0);
      return v > 0 ? g : 0;
    case 'leaky-relu': return v >= 0 ? g : p.alpha * g;
    case 'clip': return v >= p.alpha && v <= p.beta ? g : 0;
    case 'sigmoid': return g * sigmoid(v) * (1 - sigmoid(v));
    case 'tanh': return g * (1 - Math.tanh(v) ** 2);
    case 'gelu-erf': return g * (gaussianCdf(v) + v * gaussianPdf(v));
    case 'gelu-tanh': {
      const t = Math.tanh(K * (v + 0.044715 * v ** 3));
      return g * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * K * (1 + 3 * 0.044715 * v * v));
    }
  }
}
