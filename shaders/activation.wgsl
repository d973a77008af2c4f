// Pointwise (unary elementwise) ops: forward, and the input gradient from the forward's input (what the forward
// saved). One pipeline per (OP, RULE): the compiler folds the switch away.
// uses: grid (WORKGROUP_SIZE, flat_index: shaders/lib/grid.wgsl)

struct Params {
  count: u32,
  alpha: f32, // LeakyRelu slope; Clip lower bound; HardSigmoid, Elu, Selu α; Pow exponent
  beta: f32,  // Clip upper bound; HardSigmoid β; Selu γ
}

// Enums: declared here only; src/kernels/wgsl.ts reads the codes by name (OP_LEAKY_RELU is 'leaky-relu').
const OP_RELU: u32 = 0u;
const OP_LEAKY_RELU: u32 = 1u;
const OP_CLIP: u32 = 2u;
const OP_SIGMOID: u32 = 3u;
const OP_TANH: u32 = 4u;
const OP_GELU_ERF: u32 = 5u;
const OP_GELU_TANH: u32 = 6u;
const OP_HARD_SIGMOID: u32 = 7u; // clamp(αx + β, 0, 1)
const OP_HARD_SWISH: u32 = 8u;   // x · clamp(x/6 + 1/2, 0, 1)
const OP_SQRT: u32 = 9u;
const OP_EXP: u32 = 10u;
const OP_LOG: u32 = 11u;
const OP_NEG: u32 = 12u;
const OP_ABS: u32 = 13u;
const OP_RECIPROCAL: u32 = 14u;
const OP_ERF: u32 = 15u;
const OP_POW: u32 = 16u;         // x^α, α a constant exponent
const OP_SOFTPLUS: u32 = 17u;    // log(1 + eˣ)
const OP_ELU: u32 = 18u;         // α(eˣ − 1) below 0
const OP_SELU: u32 = 19u;        // γ · Elu_α
const OP_MISH: u32 = 20u;        // x · tanh(softplus x)
const RULE_STANDARD: u32 = 0u;        // ReLU-family backward rules
const RULE_GUIDED_BACKPROP: u32 = 1u;
const RULE_DECONVNET: u32 = 2u;

override OP: u32 = OP_RELU;
override RULE: u32 = RULE_STANDARD;
// Backward: add into grad_x (a tensor read by several nodes) instead of overwriting it; a constant, so that an
// overwrite loads nothing.
override ACCUMULATE: bool = false;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> grad_y: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad_x: array<f32>;

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const INV_SQRT_2: f32 = 0.7071067811865476;

// Complementary error function with fractional error < 1.2e-7 everywhere (Numerical Recipes' erfcc,
// a Chebyshev fit). Used through the normal CDF so GELU's left tail keeps its relative accuracy.
fn erfc(v: f32) -> f32 {
  let z = abs(v);
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
    + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return select(2.0 - r, r, v >= 0.0);
}

fn normal_cdf(v: f32) -> f32 {
  return 0.5 * erfc(-v * INV_SQRT_2);
}

// tanh to f32 relative accuracy, not WGSL's builtin: its error is absolute (SwiftShader and llvmpipe: 6–7 % relative at
// 1e-6), which DeepLift's multipliers (tanh x − tanh x₀) / (x − x₀) magnify, and some drivers return NaN for large
// arguments. Below 1/4 the odd Taylor series to v¹¹ (the next term is 2e-10 relative); above, 1 − 2 / (e^{2|v|} + 1)
// with |v| capped at 15, where tanh is already ±1 in f32.
fn safe_tanh(v: f32) -> f32 {
  let a = abs(v);
  if (a < 0.25) {
    let s = v * v;
    return v * (1.0 + s * (-1.0 / 3.0 + s * (2.0 / 15.0 + s * (-17.0 / 315.0 + s * (62.0 / 2835.0 + s * (-1382.0 / 155925.0))))));
  }
  return sign(v) * (1.0 - 2.0 / (exp(2.0 * min(a, 15.0)) + 1.0));
}

fn erf(v: f32) -> f32 {
  return 1.0 - erfc(v);
}

// max(v, 0) + log(1 + e^−|v|): never overflows; log(1 + e) by its series where 1 + e would round to 1.
fn softplus(v: f32) -> f32 {
  let e = exp(-abs(v));
  return max(v, 0.0) + select(log(1.0 + e), e * (1.0 - 0.5 * e), e < 1e-4);
}

// x^p. WGSL's pow is undefined for x ≤ 0, so small integer exponents multiply out (exact signs, a few ulps),
// ±1/2 go through sqrt, and otherwise a negative base with a fractional exponent is NaN, as in ONNX.
fn power(v: f32, p: f32) -> f32 {
  let n = abs(p);
  if (p == floor(p) && n <= 8.0) {
    var r = 1.0;
    for (var k = 0u; k < u32(n); k++) { r *= v; }
    return select(r, 1.0 / r, p < 0.0);
  }
  if (p == 0.5) { return sqrt(v); }
  if (p == -0.5) { return inverseSqrt(v); }
  if (v == 0.0) { return select(1.0 / v, 0.0, p > 0.0); } // 0^p: 0, or ±∞ for p < 0
  let r = pow(abs(v), p);
  if (v > 0.0) { return r; }
  // NaN, built at run time (a constant NaN does not compile).
  if (p != floor(p)) { return bitcast<f32>(0x7fc00000u | (bitcast<u32>(v) & 0u)); }
  return select(r, -r, fract(0.5 * p) != 0.0); // an odd integer exponent keeps the sign
}

fn sigmoid(v: f32) -> f32 {
  // Split by sign so exp never overflows.
  if (v >= 0.0) { return 1.0 / (1.0 + exp(-v)); }
  let e = exp(v);
  return e / (1.0 + e);
}

fn activate(v: f32) -> f32 {
  switch OP {
    case OP_RELU: { return max(v, 0.0); }
    case OP_LEAKY_RELU: { return select(params.alpha * v, v, v >= 0.0); }
    case OP_CLIP: { return clamp(v, params.alpha, params.beta); }
    case OP_SIGMOID: { return sigmoid(v); }
    case OP_TANH: { return safe_tanh(v); }
    case OP_GELU_ERF: { return v * normal_cdf(v); }
    case OP_HARD_SIGMOID: { return clamp(params.alpha * v + params.beta, 0.0, 1.0); }
    case OP_HARD_SWISH: { return v * clamp(v / 6.0 + 0.5, 0.0, 1.0); }
    case OP_SQRT: { return sqrt(v); }
    case OP_EXP: { return exp(v); }
    case OP_LOG: { return log(v); }
    case OP_NEG: { return -v; }
    case OP_ABS: { return abs(v); }
    case OP_RECIPROCAL: { return 1.0 / v; }
    case OP_ERF: { return erf(v); }
    case OP_POW: { return power(v, params.alpha); }
    case OP_SOFTPLUS: { return softplus(v); }
    case OP_ELU: { return select(params.alpha * (exp(v) - 1.0), v, v > 0.0); }
    case OP_SELU: { return params.beta * select(params.alpha * (exp(v) - 1.0), v, v > 0.0); }
    case OP_MISH: { return v * safe_tanh(softplus(v)); }
    // 0.5 (1 + tanh u) = sigmoid(2u): no cancellation in the left tail.
    case OP_GELU_TANH, default: { return v * sigmoid(2.0 * SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)); }
  }
}

// d activate / dv, times the upstream gradient g, under the selected rule.
fn backward(v: f32, g: f32) -> f32 {
  switch OP {
    case OP_RELU: {
      if (RULE == RULE_GUIDED_BACKPROP) { return select(0.0, g, v > 0.0 && g > 0.0); } // forward mask and positive gradient
      if (RULE == RULE_DECONVNET) { return max(g, 0.0); }                               // ignore the forward mask
      return select(0.0, g, v > 0.0);
    }
    case OP_LEAKY_RELU: { return select(params.alpha * g, g, v >= 0.0); }
    case OP_CLIP: { return select(0.0, g, v >= params.alpha && v <= params.beta); }
    case OP_SIGMOID: { let s = sigmoid(v); return g * s * (1.0 - s); }
    case OP_TANH: { let t = safe_tanh(v); return g * (1.0 - t * t); }
    case OP_GELU_ERF: {
      let pdf = 0.3989422804014327 * exp(-0.5 * v * v);
      return g * (normal_cdf(v) + v * pdf);
    }
    case OP_HARD_SIGMOID: {
      let h = params.alpha * v + params.beta;
      return select(0.0, params.alpha * g, h > 0.0 && h < 1.0);
    }
    // PyTorch's one-sided choices at the kinks ±3.
    case OP_HARD_SWISH: { return select(select(g, g * (v / 3.0 + 0.5), v <= 3.0), 0.0, v < -3.0); }
    case OP_SQRT: { return g * 0.5 * inverseSqrt(v); }
    case OP_EXP: { return g * exp(v); }
    case OP_LOG: { return g / v; }
    case OP_NEG: { return -g; }
    case OP_ABS: { return g * sign(v); }
    case OP_RECIPROCAL: { let r = 1.0 / v; return -g * r * r; }
    case OP_ERF: { return g * 1.1283791670955126 * exp(-v * v); } // 2/√π e^(−v²)
    case OP_POW: { return g * params.alpha * power(v, params.alpha - 1.0); }
    case OP_SOFTPLUS: { return g * sigmoid(v); }
    case OP_ELU: { return select(g * params.alpha * exp(v), g, v > 0.0); }
    case OP_SELU: { return g * params.beta * select(params.alpha * exp(v), 1.0, v > 0.0); }
    case OP_MISH: {
      let t = safe_tanh(softplus(v));
      return g * (t + v * (1.0 - t * t) * sigmoid(v));
    }
    case OP_GELU_TANH, default: {
      let s = sigmoid(2.0 * SQRT_2_OVER_PI * (v + 0.044715 * v * v * v));
      let du = SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * v * v);
      return g * (s + 2.0 * v * s * (1.0 - s) * du);
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn activation_forward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i < params.count) { y[i] = activate(x[i]); }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn activation_backward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i < params.count) {
    let g = backward(x[i], grad_y[i]);
    if (ACCUMULATE) { grad_x[i] += g; } else { grad_x[i] = g; }
  }
}
