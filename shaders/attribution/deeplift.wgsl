// DeepLift's rescale rule (Shrikumar et al. 2017), as Captum's DeepLift computes it: the batch holds pairs of rows,
// row 2p the input's activations and row 2p + 1 its reference's, and a nonlinearity passes the multiplier
// Δout/Δin instead of its derivative, the same Δ for both rows of a pair. Where |Δin| < EPS (Captum's eps) each row
// keeps its ordinary gradient, which the op's own backward kernel wrote into `fallback`.
// uses: grid (WORKGROUP_SIZE, flat_index: shaders/lib/grid.wgsl)

struct Params {
  count: u32,      // elements of the tensor, whole batch
  row: u32,        // elements per batch row
  accumulate: u32, // 1 adds into grad_x (a tensor read by several nodes), 0 overwrites
  scale: f32,      // deeplift_center: 1/(2·row), the mean over a pair
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;        // the op's input, both rows of each pair
@group(0) @binding(2) var<storage, read> y: array<f32>;        // the op's output
@group(0) @binding(3) var<storage, read> grad_y: array<f32>;
@group(0) @binding(4) var<storage, read> routed: array<f32>;   // MaxPool: each row's weighted gradient, at its argmax
@group(0) @binding(5) var<storage, read> fallback: array<f32>; // each row's ordinary gradient
@group(0) @binding(6) var<storage, read> sums: array<f32>;     // deeplift_center: Σ over each pair
@group(0) @binding(7) var<storage, read_write> weighted: array<f32>;
@group(0) @binding(8) var<storage, read_write> grad_x: array<f32>;

// Captum's DeepLift(eps=1e-10): below it Δin counts as zero.
const EPS: f32 = 1e-10;

// Element i's own row-relative index, and the indices of the same element in its pair's input and reference rows.
struct Pair {
  input: u32,
  reference: u32,
  is_reference: bool,
}

fn pair_of(i: u32) -> Pair {
  let start = (i / (2u * params.row)) * 2u * params.row;
  let j = (i - start) % params.row;
  return Pair(start + j, start + params.row + j, i - start >= params.row);
}

fn store(i: u32, value: f32) {
  grad_x[i] = select(value, grad_x[i] + value, params.accumulate == 1u);
}

// numerator / Δin, or the row's ordinary gradient where Δin is (nearly) zero.
fn rescaled(i: u32, pair: Pair, numerator: f32) -> f32 {
  let delta_in = x[pair.input] - x[pair.reference];
  return select(numerator / delta_in, fallback[i], abs(delta_in) < EPS);
}

// A pointwise nonlinearity (ReLU, Sigmoid, Tanh, …): g · Δy/Δx.
@compute @workgroup_size(WORKGROUP_SIZE)
fn deeplift_rescale(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.count) { return; }
  let pair = pair_of(i);
  store(i, rescaled(i, pair, grad_y[i] * (y[pair.input] - y[pair.reference])));
}

// MaxPool, first: each output's gradient times its share of Δy, split at the cross maximum m = max(y, y_ref) as
// Captum's maxpool rule does: m − y_ref for the input row, y − m for the reference row (they sum to Δy).
@compute @workgroup_size(WORKGROUP_SIZE)
fn deeplift_pool_weights(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.count) { return; }
  let pair = pair_of(i);
  let top = max(y[pair.input], y[pair.reference]);
  weighted[i] = grad_y[i] * select(top - y[pair.reference], y[pair.input] - top, pair.is_reference);
}

// MaxPool, last (after MaxPool's own backward routed `weighted` to each row's argmax): both rows' routed terms,
// summed, over Δx.
@compute @workgroup_size(WORKGROUP_SIZE)
fn deeplift_routed(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.count) { return; }
  let pair = pair_of(i);
  store(i, rescaled(i, pair, routed[pair.input] + routed[pair.reference]));
}

// Softmax, last: Captum's softmax rule subtracts the mean of the rescaled gradient (`weighted`, from
// deeplift_rescale) over the pair; `sums` holds each pair's sum.
@compute @workgroup_size(WORKGROUP_SIZE)
fn deeplift_center(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.count) { return; }
  store(i, weighted[i] - sums[i / (2u * params.row)] * params.scale);
}
