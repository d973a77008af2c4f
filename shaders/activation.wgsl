// Pointwise activations: forward, and the input gradient from the forward's input (what the forward saved).
// One pipeline per (OP, RULE): the compiler folds the switch away.
// uses: grid (WORKGROUP_SIZE, flat_index: shaders/lib/grid.wgsl)

struct Params {
  count: u32,
  alpha: f32, // LeakyRelu slope; Clip lower bound
  beta: f32,  // Clip upper bound
  accumulate: u32, // backward: 1 adds into grad_x (a tensor read by several nodes), 0 overwrites
}

// Enums: declared here only; src/kernels/wgsl.ts reads the codes by name (OP_LEAKY_RELU is 'leaky-relu').
const OP_RELU: u32 = 0u;
const OP_LEAKY_RELU: u32 = 1u;
const OP_CLIP: u32 = 2u;
const OP_SIGMOID: u32 = 3u;
const OP_TANH: u32 = 4u;
const OP_GELU_ERF: u32 = 5u;
const OP_GELU_TANH: u32 = 6u;
const RULE_STANDARD: u32 = 0u;        // ReLU-family backward rules
const RULE_GUIDED_BACKPROP: u32 = 1u;
const RULE_DECONVNET: u32 = 2u;

override OP: u32 = OP_RELU;
override RULE: u32 = RULE_STANDARD;

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

// Some drivers return NaN for tanh of large arguments; tanh(±15) is already ±1 in f32.
fn safe_tanh(v: f32) -> f32 {
  return tanh(clamp(v, -15.0, 15.0));
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
    grad_x[i] = select(g, grad_x[i] + g, params.accumulate == 1u);
  }
}
