// Layer-wise relevance propagation's elementwise steps (Bach et al. 2015; Montavon et al. 2019, "Layer-Wise Relevance
// Propagation: An Overview"). A rule at a layer z = f(a; W, b) is, as Zennit's BasicHook writes it, a sum of terms k:
//   z' = Σ_k sign_k f(in_k; W_k, b_k),  s = R_out / stab(z'),  R_in = Σ_k sign_k in_k ⊙ J_f(W_k)ᵀ s
// with in_k and W_k the rule's modified inputs and weights (positive part, γ-boosted, ones, box bounds). The layer's own
// forward and input-gradient kernels compute f and J_fᵀ; these entry points make the modified tensors, stabilise and
// divide, and multiply back. stab(z) = z + ε·sign(z), sign(0) = 1 (Captum's and Zennit's stabiliser).
// uses: grid (WORKGROUP_SIZE, flat_index: shaders/lib/grid.wgsl)

struct Params {
  count: u32,      // elements written
  gamma: f32,      // lrp_modify GAMMA: w + γ·w⁺
  epsilon: f32,    // lrp_divide: the stabiliser ε
  sign: f32,       // lrp_add, lrp_product: the term's sign (±1)
  accumulate: u32, // lrp_add, lrp_product: 1 adds into the output, 0 overwrites
  inner: u32,      // lrp_bound: elements per channel (the product of the axes after axis 1)
  channels: u32,   // lrp_bound: values in `bound` (1 for one value everywhere, else one per channel)
}

// Enums: declared here only; src/kernels/wgsl.ts reads the codes by name.
const MODIFIER_POSITIVE: u32 = 0u; // max(x, 0)
const MODIFIER_NEGATIVE: u32 = 1u; // min(x, 0)
const MODIFIER_GAMMA: u32 = 2u;    // x + γ·max(x, 0)
const MODIFIER_ONES: u32 = 3u;     // 1

override MODIFIER: u32 = MODIFIER_POSITIVE;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> bound: array<f32>;
@group(0) @binding(4) var<storage, read> relevance: array<f32>;
@group(0) @binding(5) var<storage, read_write> z: array<f32>;
@group(0) @binding(6) var<storage, read> c: array<f32>;

// y = modifier(x): a rule's weights, biases or inputs.
@compute @workgroup_size(WORKGROUP_SIZE)
fn lrp_modify(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.count) { return; }
  let v = x[i];
  switch MODIFIER {
    case MODIFIER_POSITIVE: { y[i] = max(v, 0.0); }
    case MODIFIER_NEGATIVE: { y[i] = min(v, 0.0); }
    case MODIFIER_GAMMA: { y[i] = v + params.gamma * max(v, 0.0); }
    default: { y[i] = 1.0; }
  }
}

// y = the box rule's bound broadcast over an NC… tensor: one value, or one per channel (Zennit's ZBox low/high).
@compute @workgroup_size(WORKGROUP_SIZE)
fn lrp_bound(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.count) { return; }
  y[i] = bound[(i / params.inner) % params.channels];
}

// z ← R / stab(z) in place; 0 where stab(z) is 0 (LRP-0, ε = 0, on a dead unit: no relevance to share out).
@compute @workgroup_size(WORKGROUP_SIZE)
fn lrp_divide(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.count) { return; }
  let denominator = z[i] + params.epsilon * select(1.0, -1.0, z[i] < 0.0);
  z[i] = select(relevance[i] / denominator, 0.0, denominator == 0.0);
}

// y (=|+=) sign·x: sums a rule's terms z' = Σ sign_k z_k; passes relevance through (activations).
@compute @workgroup_size(WORKGROUP_SIZE)
fn lrp_add(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.count) { return; }
  let previous = select(0.0, y[i], params.accumulate == 1u);
  y[i] = previous + params.sign * x[i];
}

// y (=|+=) sign·x ⊙ c: a term's share of R_in, its input times the back-propagated quotient.
@compute @workgroup_size(WORKGROUP_SIZE)
fn lrp_product(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.count) { return; }
  let previous = select(0.0, y[i], params.accumulate == 1u);
  y[i] = previous + params.sign * x[i] * c[i];
}
