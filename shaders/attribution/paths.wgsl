// Kernels of the path methods beyond straight-line integrated gradients (src/attribution/methods/paths.ts): make a
// chunk's points, on the straight line b + α (x − b) or as Gaussian-blurred copies of x (Blur IG, Xu et al. 2020), fold
// the gradients at them into per-input sums, and finish the sums. Each point of a chunk has a descriptor of two
// vec4<u32> in `info`, and a chunk's points are sorted by input:
//   info[2p]     = (input, bits of α, bits of weight, next)   next = 1: point p + 1 is the following point of p's path
//   info[2p + 1] = (taps offset at σ, radius at σ, taps offset at σ + grad_step, radius at σ + grad_step)
// uses: grid (WORKGROUP_SIZE, flat_index: shaders/lib/grid.wgsl)

struct Params {
  size: u32,         // elements per input
  chunk_count: u32,  // points in this chunk
  height: u32,       // blur: the two trailing axes of an input; a 1-D input is one row (height 1)
  width: u32,
  blur_height: u32,  // blur: 1 blurs along height as well as width (inputs of rank ≥ 2)
  second: u32,       // blur: 0 blurs with the σ taps into `points`, 1 with the σ + grad_step taps into `direction`
  first_input: u32,  // accumulate: the chunk's first input
  chunk_inputs: u32, // accumulate: how many inputs the chunk's points belong to
  inputs: u32,       // finalize: inputs of the call
}

// Enum codes of FOLD, read by name in src/kernels/wgsl.ts. An override constant, not a uniform: Mesa's llvmpipe runs
// both sides of a branch on a uniform (under a lane mask), so every fold would load what every other fold reads.
const FOLD_GRADIENT: u32 = 0u;  // adds w·g
const FOLD_DIRECTION: u32 = 1u; // adds g·direction (Blur IG)
const FOLD_IDGI: u32 = 2u;      // adds c·g² (IDGI)
override FOLD: u32 = FOLD_GRADIENT;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> inputs: array<f32>;             // n × size
@group(0) @binding(2) var<storage, read> baselines: array<f32>;          // n × size
@group(0) @binding(3) var<storage, read> info: array<vec4<u32>>;         // 2 per point, see above
@group(0) @binding(4) var<storage, read> taps: array<f32>;               // normalised Gaussian weights of every σ used
@group(0) @binding(5) var<storage, read_write> points: array<f32>;       // the model's input for the chunk
@group(0) @binding(6) var<storage, read_write> scratch: array<f32>;      // blur: after the height pass
@group(0) @binding(7) var<storage, read_write> direction: array<f32>;    // blur: w·(x_{σ+h} − x_σ) per point
@group(0) @binding(8) var<storage, read> gradients: array<f32>;
@group(0) @binding(9) var<storage, read> scores: array<f32>;             // the score at each point of the chunk
@group(0) @binding(10) var<storage, read_write> norms: array<f32>;       // ‖g‖² per point
@group(0) @binding(11) var<storage, read_write> coefficients: array<f32>;
@group(0) @binding(12) var<storage, read_write> sums: array<f32>;        // n × size

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

fn point_input(p: u32) -> u32 { return info[2u * p].x; }
fn point_alpha(p: u32) -> f32 { return bitcast<f32>(info[2u * p].y); }
fn point_weight(p: u32) -> f32 { return bitcast<f32>(info[2u * p].z); }

// The Gaussian taps (offset into `taps`, radius) this pass uses for point p.
fn point_taps(p: u32) -> vec2<u32> {
  let t = info[2u * p + 1u];
  return select(t.xy, t.zw, params.second == 1u);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn paths_line_points(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let flat = flat_index(id, groups);
  if (flat >= params.chunk_count * params.size) { return; }
  let p = flat / params.size;
  let at = point_input(p) * params.size + flat % params.size;
  let b = baselines[at];
  points[flat] = b + point_alpha(p) * (inputs[at] - b);
}

// scipy.ndimage.gaussian_filter(mode='constant'), as PAIR's Blur IG calls it: a correlation with the truncated kernel
// along height, then along width, with zeros beyond the edges (so taps outside the image are skipped).
@compute @workgroup_size(WORKGROUP_SIZE)
fn paths_blur_height(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let flat = flat_index(id, groups);
  if (flat >= params.chunk_count * params.size) { return; }
  let p = flat / params.size;
  let e = flat % params.size;
  let source = point_input(p) * params.size;
  if (params.blur_height == 0u) {
    scratch[flat] = inputs[source + e];
    return;
  }
  let plane = params.height * params.width;
  let y = (e % plane) / params.width;
  let column = source + e - y * params.width; // the element at row 0 of this column
  let kernel = point_taps(p);
  let r = kernel.y;
  let first = select(0u, r - y, r > y);
  let last = min(2u * r, r + params.height - 1u - y);
  var sum = 0.0;
  for (var t = first; t <= last; t++) {
    sum += taps[kernel.x + t] * inputs[column + (y + t - r) * params.width];
  }
  scratch[flat] = sum;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn paths_blur_width(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let flat = flat_index(id, groups);
  if (flat >= params.chunk_count * params.size) { return; }
  let p = flat / params.size;
  let x = flat % params.width;
  let row = flat - x;
  let kernel = point_taps(p);
  let r = kernel.y;
  let first = select(0u, r - x, r > x);
  let last = min(2u * r, r + params.width - 1u - x);
  var sum = 0.0;
  for (var t = first; t <= last; t++) {
    sum += taps[kernel.x + t] * scratch[row + x + t - r];
  }
  if (params.second == 0u) {
    points[flat] = sum;
  } else {
    // PAIR's forward difference (blur(σ + h) − blur(σ)) / h, with −Δσ/h folded into the point's weight.
    direction[flat] = point_weight(p) * (sum - points[flat]);
  }
}

// ‖g‖² of each point, one workgroup per point, by a fixed-order tree so it is deterministic.
@compute @workgroup_size(WORKGROUP_SIZE)
fn paths_norms(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) local: u32,
               @builtin(num_workgroups) groups: vec3<u32>) {
  let p = group.x + group.y * groups.x;
  if (p >= params.chunk_count) { return; } // the whole workgroup leaves together
  var sum = 0.0;
  for (var e = local; e < params.size; e += WORKGROUP_SIZE) {
    let g = gradients[p * params.size + e];
    sum += g * g;
  }
  partial[local] = sum;
  workgroupBarrier();
  for (var s = WORKGROUP_SIZE / 2u; s > 0u; s = s / 2u) {
    if (local < s) { partial[local] += partial[local + s]; }
    workgroupBarrier();
  }
  if (local == 0u) { norms[p] = partial[0]; }
}

// IDGI (Yang et al. 2023, Alg. 1): the step from point p to its successor adds g_p² · Δf / ‖g_p‖²; the weight is the
// sign that turns the chunk's order into the path's. No successor in the chunk, or a zero gradient: nothing.
@compute @workgroup_size(WORKGROUP_SIZE)
fn paths_idgi_coefficients(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let p = flat_index(id, groups);
  if (p >= params.chunk_count) { return; }
  var c = 0.0;
  if (info[2u * p].w == 1u && norms[p] > 0.0) {
    c = point_weight(p) * (scores[p + 1u] - scores[p]) / norms[p];
  }
  coefficients[p] = c;
}

// The chunk's first point of input i or of any later input (points are sorted by input).
fn first_point_from(i: u32) -> u32 {
  var low = 0u;
  var high = params.chunk_count;
  while (low < high) {
    let middle = (low + high) / 2u;
    if (point_input(middle) < i) { low = middle + 1u; } else { high = middle; }
  }
  return low;
}

// One invocation per (input, element) walks that input's points in order: deterministic, no atomics.
@compute @workgroup_size(WORKGROUP_SIZE)
fn paths_accumulate(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let flat = flat_index(id, groups);
  if (flat >= params.chunk_inputs * params.size) { return; }
  let i = params.first_input + flat / params.size;
  let e = flat % params.size;
  let begin = first_point_from(i);
  let end = first_point_from(i + 1u);
  var total = 0.0;
  for (var p = begin; p < end; p++) {
    let g = gradients[p * params.size + e];
    if (FOLD == FOLD_GRADIENT) { total += point_weight(p) * g; }
    if (FOLD == FOLD_DIRECTION) { total += g * direction[p * params.size + e]; }
    if (FOLD == FOLD_IDGI) { total += coefficients[p] * g * g; }
  }
  if (begin < end) { sums[i * params.size + e] += total; }
}

// Integrated gradients' last factor: the sums of w·g times x − b. A zero stays +0 whatever the sign of x − b.
@compute @workgroup_size(WORKGROUP_SIZE)
fn paths_finalize(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let flat = flat_index(id, groups);
  if (flat >= params.inputs * params.size) { return; }
  let value = sums[flat] * (inputs[flat] - baselines[flat]);
  sums[flat] = select(value, 0.0, value == 0.0);
}
