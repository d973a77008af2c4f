// Layer attribution maps: Grad-CAM / Grad-CAM++ channel weights and weighted sums (Selvaraju 2017, Chattopadhay 2018),
// FullGrad's per-layer terms ψ(∂f/∂b ⊙ b) and ψ(∇x f ⊙ x) (Srinivas 2019), and the broadcast of a map over the
// input's channels. Layer tensors are NCHW with `spatial` = h·w; samples of a chunk are contiguous.
// uses: grid (WORKGROUP_SIZE, flat_index: shaders/lib/grid.wgsl)

struct Params {
  count: u32,    // samples in this chunk
  channels: u32, // K: channels of the layer (or of the input, for the broadcast)
  spatial: u32,  // elements per (sample, channel)
  first: u32,    // index of the chunk's first sample among all samples (result and statistics rows)
  relu: u32,     // cam_map: 1 keeps only the positive part of the map
  slot: u32,     // FullGrad: which term (0 the input term, then one per bias layer)
  terms: u32,    // FullGrad: term slots per sample in `statistics`
  accumulate: u32, // fullgrad_accumulate: 1 adds into `total`, 0 overwrites
}

// Enum codes, read by name in src/kernels/wgsl.ts.
const WEIGHTING_GRAD_CAM: u32 = 0u;           // cam_weights: the spatial mean of g
const WEIGHTING_GRAD_CAM_PLUS_PLUS: u32 = 1u;
const FACTOR_CHANNEL: u32 = 0u; // FullGrad: the factor is a bias per channel
const FACTOR_ELEMENT: u32 = 1u; // FullGrad: the factor is a tensor like the gradient (x)
override WEIGHTING: u32 = WEIGHTING_GRAD_CAM;
override FACTOR: u32 = FACTOR_CHANNEL;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> activation: array<f32>;   // A [n, K, h, w]
@group(0) @binding(2) var<storage, read> gradient: array<f32>;     // ∂f/∂A (or ∂f/∂z at a bias layer's output)
@group(0) @binding(3) var<storage, read_write> weights: array<f32>; // α or w per (sample, channel)
@group(0) @binding(4) var<storage, read_write> map: array<f32>;     // [n, 1, h, w]
@group(0) @binding(5) var<storage, read> upsampled: array<f32>;     // [n, 1, H, W]
@group(0) @binding(6) var<storage, read> guided: array<f32>;        // guided backprop's input gradient [n, C, H, W]
@group(0) @binding(7) var<storage, read_write> result: array<f32>;  // [all samples, C, H, W]
@group(0) @binding(8) var<storage, read> factor: array<f32>;        // FullGrad: b [K], or x like `gradient`
@group(0) @binding(9) var<storage, read_write> statistics: array<f32>; // per (sample, term): min |t|, max |t|, Σ t, 0
@group(0) @binding(10) var<storage, read_write> total: array<f32>;  // FullGrad's summed map [n, 1, H, W]

var<workgroup> partial: array<vec3<f32>, WORKGROUP_SIZE>;

// One invocation per (sample, channel). Grad-CAM: α_k = (1/hw) Σ_ij g_ij. Grad-CAM++ (Chattopadhay 2018, Eq. 19 with
// the exponential score): α_ij = g²/(2g² + Σ_ab A_ab · g³) = 1/(2 + S·g) where g ≠ 0, and w_k = Σ_ij α_ij relu(g_ij).
@compute @workgroup_size(WORKGROUP_SIZE)
fn cam_weights(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.count * params.channels) { return; }
  let base = i * params.spatial;
  if (WEIGHTING == WEIGHTING_GRAD_CAM) {
    var sum = 0.0;
    for (var p = 0u; p < params.spatial; p++) { sum += gradient[base + p]; }
    weights[i] = sum / f32(params.spatial);
    return;
  }
  var activation_sum = 0.0;
  for (var p = 0u; p < params.spatial; p++) { activation_sum += activation[base + p]; }
  var w = 0.0;
  for (var p = 0u; p < params.spatial; p++) {
    let g = gradient[base + p];
    let denominator = 2.0 + activation_sum * g;
    if (g > 0.0 && denominator != 0.0) { w += g / denominator; } // relu(g)·α: only g > 0 contributes
  }
  weights[i] = w;
}

// One invocation per (sample, position): Σ_k w_k A^k, optionally ReLU'd (Selvaraju 2017, Eq. 2).
@compute @workgroup_size(WORKGROUP_SIZE)
fn cam_map(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.count * params.spatial) { return; }
  let n = i / params.spatial;
  let p = i % params.spatial;
  var sum = 0.0;
  for (var k = 0u; k < params.channels; k++) {
    let nk = n * params.channels + k;
    sum += weights[nk] * activation[nk * params.spatial + p];
  }
  map[i] = select(sum, max(sum, 0.0), params.relu == 1u);
}

// The map broadcast over the input's channels, written at the chunk's place in the result.
@compute @workgroup_size(WORKGROUP_SIZE)
fn cam_expand(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  let per_sample = params.channels * params.spatial;
  if (i >= params.count * per_sample) { return; }
  result[params.first * per_sample + i] = upsampled[(i / per_sample) * params.spatial + i % params.spatial];
}

// Guided Grad-CAM: guided backprop ⊙ the upsampled map, per input channel.
@compute @workgroup_size(WORKGROUP_SIZE)
fn cam_expand_guided(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  let per_sample = params.channels * params.spatial;
  if (i >= params.count * per_sample) { return; }
  result[params.first * per_sample + i] = guided[i] * upsampled[(i / per_sample) * params.spatial + i % params.spatial];
}

// FullGrad's raw term at element e of sample n: g ⊙ b (b per channel) or g ⊙ x.
fn term(n: u32, e: u32) -> f32 {
  let j = n * params.channels * params.spatial + e;
  if (FACTOR == FACTOR_CHANNEL) { return gradient[j] * factor[e / params.spatial]; }
  return gradient[j] * factor[j];
}

fn statistics_row(n: u32) -> u32 {
  return ((params.first + n) * params.terms + params.slot) * 4u;
}

// One workgroup per sample: min and max of |t| (for ψ's min-max normalisation) and Σ t (for completeness), by a
// fixed-order tree, so results are deterministic.
@compute @workgroup_size(WORKGROUP_SIZE)
fn fullgrad_statistics(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) local: u32) {
  let n = group.x;
  let size = params.channels * params.spatial;
  var low = 0x1.fffffep+127f; // the largest f32
  var high = 0.0;
  var sum = 0.0;
  for (var e = local; e < size; e += WORKGROUP_SIZE) {
    let t = term(n, e);
    low = min(low, abs(t));
    high = max(high, abs(t));
    sum += t;
  }
  partial[local] = vec3(low, high, sum);
  workgroupBarrier();
  for (var s = WORKGROUP_SIZE / 2u; s > 0u; s = s / 2u) {
    if (local < s) {
      let a = partial[local];
      let b = partial[local + s];
      partial[local] = vec3(min(a.x, b.x), max(a.y, b.y), a.z + b.z);
    }
    workgroupBarrier();
  }
  if (local == 0u) {
    let row = statistics_row(n);
    statistics[row] = partial[0].x;
    statistics[row + 1u] = partial[0].y;
    statistics[row + 2u] = partial[0].z;
    statistics[row + 3u] = 0.0;
  }
}

// One invocation per (sample, position): Σ_c ψ(t), with ψ(t) = (|t| − min)/(max − min + 1e-6) over the sample's whole
// term (the reference implementation's _postProcess), summed over channels before upsampling (both are linear).
@compute @workgroup_size(WORKGROUP_SIZE)
fn fullgrad_map(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.count * params.spatial) { return; }
  let n = i / params.spatial;
  let p = i % params.spatial;
  let row = statistics_row(n);
  let low = statistics[row];
  let scale = 1.0 / (statistics[row + 1u] - low + 1e-6);
  var sum = 0.0;
  for (var c = 0u; c < params.channels; c++) { sum += (abs(term(n, c * params.spatial + p)) - low) * scale; }
  map[i] = sum;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn fullgrad_accumulate(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.count * params.spatial) { return; }
  total[i] = select(upsampled[i], total[i] + upsampled[i], params.accumulate == 1u);
}
