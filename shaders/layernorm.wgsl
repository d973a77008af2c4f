// ONNX LayerNormalization (opset 17, stash_type 1: statistics in f32) over the trailing `size` elements of each of
// `rows` rows. ROW_THREADS invocations share a row and combine partial sums by shaders/lib/row-reduce.wgsl's fixed-
// order tree (deterministic), or by subgroup operations in the module's subgroups variant; rows are contiguous, so
// neighbouring invocations read neighbouring addresses.
// uses: grid (WORKGROUP_SIZE, flat_index: shaders/lib/grid.wgsl)
// uses: row-reduce (row_reduce2 over ROW_THREADS, or its subgroups twin)
// uses: row-ops (row_sum, row_sum2)

struct Params {
  rows: u32,
  size: u32,     // D: the product of the normalised (trailing) dimensions
  epsilon: f32,
  has_bias: u32, // 0: no β (the `bias` binding is then a placeholder and never read)
  accumulate: u32, // backward: 1 adds into grad_x (a tensor read by several nodes), 0 overwrites
}

override ROW_THREADS: u32 = 1u; // a power of two dividing WORKGROUP_SIZE

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> scale: array<f32>; // γ [D]
@group(0) @binding(3) var<storage, read> bias: array<f32>;  // β [D]
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> mean: array<f32>;        // μ per row, saved for the backward
@group(0) @binding(6) var<storage, read_write> inv_std_dev: array<f32>; // 1/√(σ² + ε) per row
@group(0) @binding(7) var<storage, read> grad_y: array<f32>;
@group(0) @binding(8) var<storage, read_write> grad_x: array<f32>;


struct Row {
  index: u32,
  base: u32,
  lane: u32,   // this invocation's place among the row's ROW_THREADS
  length: u32, // 0 for the padding invocations past the last row, which only join the barriers
}

fn row_of(id: vec3<u32>, local: u32, groups: vec3<u32>) -> Row {
  // 2-D grid (x up to 65535 workgroups); a workgroup holds whole rows since ROW_THREADS divides it.
  let row = (id.x + id.y * groups.x * WORKGROUP_SIZE) / ROW_THREADS;
  return Row(row, row * params.size, local % ROW_THREADS, select(0u, params.size, row < params.rows));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn layernorm_forward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(local_invocation_index) local: u32,
                     @builtin(num_workgroups) groups: vec3<u32>) {
  let row = row_of(id, local, groups);
  let n = f32(params.size);
  var s = 0.0;
  for (var k = row.lane; k < row.length; k += ROW_THREADS) { s += x[row.base + k]; }
  let mu = row_sum(local, s) / n;
  // Two passes: Σ(x − μ)² does not cancel the way Σx² − nμ² does when |μ| ≫ σ.
  var q = 0.0;
  for (var k = row.lane; k < row.length; k += ROW_THREADS) { let d = x[row.base + k] - mu; q += d * d; }
  let r = inverseSqrt(row_sum(local, q) / n + params.epsilon);
  for (var k = row.lane; k < row.length; k += ROW_THREADS) {
    let j = row.base + k;
    var v = (x[j] - mu) * r * scale[k];
    if (params.has_bias == 1u) { v += bias[k]; }
    y[j] = v;
  }
  if (row.lane == 0u && row.length > 0u) {
    mean[row.index] = mu;
    inv_std_dev[row.index] = r;
  }
}

// Input gradient from the saved μ and 1/σ: with x̂ = (x − μ)·r and ĝ = dy ⊙ γ, dx = r · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂)).
@compute @workgroup_size(WORKGROUP_SIZE)
fn layernorm_backward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(local_invocation_index) local: u32,
                      @builtin(num_workgroups) groups: vec3<u32>) {
  let row = row_of(id, local, groups);
  var mu = 0.0;
  var r = 0.0;
  if (row.length > 0u) {
    mu = mean[row.index];
    r = inv_std_dev[row.index];
  }
  var sums = vec2(0.0);
  for (var k = row.lane; k < row.length; k += ROW_THREADS) {
    let j = row.base + k;
    let g = grad_y[j] * scale[k];
    sums += vec2(g, g * (x[j] - mu) * r);
  }
  let means = row_sum2(local, sums) / f32(params.size);
  for (var k = row.lane; k < row.length; k += ROW_THREADS) {
    let j = row.base + k;
    let dx = r * (grad_y[j] * scale[k] - means.x - (x[j] - mu) * r * means.y);
    grad_x[j] = select(dx, grad_x[j] + dx, params.accumulate == 1u);
  }
}
