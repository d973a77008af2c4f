// Plain float64 reference of shaders/activation.wgsl: the test oracle, written from the definitions, not from the kernel.
export const ACTIVATIONS = [
  'relu',
  'leaky-relu',
  'clip',
  'sigmoid',
  'tanh',
  'gelu-erf',
  'gelu-tanh',
  'hard-sigmoid',
  'hard-swish',
  'sqrt',
  'exp',
  'log',
  'neg',
  'abs',
  'reciprocal',
  'erf',
  'pow',
  'softplus',
  'elu',
  'selu',
  'mish',
] as const;
export type Activation = (typeof ACTIVATIONS)[number];
export type ReluRule = 'standard' | 'guided-backprop' | 'deconvnet';

export interface ActivationParams {
  /** LeakyRelu, HardSigmoid, Elu, Selu: α; Clip: the lower bound; Pow: the exponent. */
  alpha: number;
  /** Clip: the upper bound; HardSigmoid: β; Selu: γ. */
  beta: number;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const gaussianCdf = (v: number) => 0.5 * (1 + erf(v / Math.SQRT2));
const gaussianPdf = (v: number) => Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI);
const K = Math.sqrt(2 / Math.PI);
const softplus = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));

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
  for (let n = 60; n >= 1; n--) fraction = n / 2 / (a + fraction);
  return Math.sign(v) * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + fraction));
}

export function forward(op: Activation, v: number, p: ActivationParams): number {
  switch (op) {
    case 'relu':
      return Math.max(v, 0);
    case 'leaky-relu':
      return v >= 0 ? v : p.alpha * v;
    case 'clip':
      return Math.min(Math.max(v, p.alpha), p.beta);
    case 'sigmoid':
      return sigmoid(v);
    case 'tanh':
      return Math.tanh(v);
    case 'gelu-erf':
      return v * gaussianCdf(v);
    case 'gelu-tanh':
      return 0.5 * v * (1 + Math.tanh(K * (v + 0.044715 * v ** 3)));
    case 'hard-sigmoid':
      return Math.min(Math.max(p.alpha * v + p.beta, 0), 1);
    case 'hard-swish':
      return v * Math.min(Math.max(v / 6 + 0.5, 0), 1);
    case 'sqrt':
      return Math.sqrt(v);
    case 'exp':
      return Math.exp(v);
    case 'log':
      return Math.log(v);
    case 'neg':
      return -v;
    case 'abs':
      return Math.abs(v);
    case 'reciprocal':
      return 1 / v;
    case 'erf':
      return erf(v);
    case 'pow':
      return v ** p.alpha;
    case 'softplus':
      return softplus(v);
    case 'elu':
      return v > 0 ? v : p.alpha * Math.expm1(v);
    case 'selu':
      return p.beta * (v > 0 ? v : p.alpha * Math.expm1(v));
    case 'mish':
      return v * Math.tanh(softplus(v));
  }
}

/** Input gradient given the forward input v and upstream gradient g. */
export function backward(op: Activation, v: number, g: number, p: ActivationParams, rule: ReluRule = 'standard'): number {
  switch (op) {
    case 'relu':
      if (rule === 'guided-backprop') return v > 0 && g > 0 ? g : 0;
      if (rule === 'deconvnet') return Math.max(g, 0);
      return v > 0 ? g : 0;
    case 'leaky-relu':
      return v >= 0 ? g : p.alpha * g;
    case 'clip':
      return v >= p.alpha && v <= p.beta ? g : 0;
    case 'sigmoid':
      return g * sigmoid(v) * (1 - sigmoid(v));
    case 'tanh':
      return g * (1 - Math.tanh(v) ** 2);
    case 'gelu-erf':
      return g * (gaussianCdf(v) + v * gaussianPdf(v));
    case 'gelu-tanh': {
      const t = Math.tanh(K * (v + 0.044715 * v ** 3));
      return g * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * K * (1 + 3 * 0.044715 * v * v));
    }
    case 'hard-sigmoid': {
      const h = p.alpha * v + p.beta;
      return h > 0 && h < 1 ? p.alpha * g : 0;
    }
    // PyTorch's one-sided choices at the kinks ±3.
    case 'hard-swish':
      return v < -3 ? 0 : v <= 3 ? g * (v / 3 + 0.5) : g;
    case 'sqrt':
      return g / (2 * Math.sqrt(v));
    case 'exp':
      return g * Math.exp(v);
    case 'log':
      return g / v;
    case 'neg':
      return -g;
    case 'abs':
      return g * Math.sign(v);
    case 'reciprocal':
      return -g / (v * v);
    case 'erf':
      return g * (2 / Math.sqrt(Math.PI)) * Math.exp(-v * v);
    case 'pow':
      return g * p.alpha * v ** (p.alpha - 1);
    case 'softplus':
      return g * sigmoid(v);
    case 'elu':
      return v > 0 ? g : g * p.alpha * Math.exp(v);
    case 'selu':
      return g * p.beta * (v > 0 ? 1 : p.alpha * Math.exp(v));
    case 'mish': {
      const t = Math.tanh(softplus(v));
      return g * (t + v * (1 - t * t) * sigmoid(v));
    }
  }
}
