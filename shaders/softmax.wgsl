// ONNX Softmax / LogSoftmax (opset 13) over one axis of a tensor viewed as (outer, axis_size, inner):
// element (o, k, i) sits at (o·axis_size + k)·inner + i, and a row is one (o, i) pair.
// ROW_THREADS invocations share a row (1 for short axes, up to a whole workgroup for long ones) and combine
// their partial results by shaders/lib/row-reduce.wgsl's fixed-order tree (deterministic), or by subgroup operations
// in the module's subgroups variant (row-reduce-subgroups.wgsl, on devices with the feature).
// uses: grid (WORKGROUP_SIZE, flat_index: shaders/lib/grid.wgsl)
// uses: row-reduce (row_reduce2 over ROW_THREADS, or its subgroups twin)
// uses: row-ops (row_sum, row_max)

struct Params {
  outer: u32,
  axis_size: u32,
  inner: u32,
  accumulate: u32, // backward: 1 adds into grad_x (a tensor read by several nodes), 0 overwrites
}

const OP_SOFTMAX: u32 = 0u; // enum codes, read by name in src/kernels/wgsl.ts
const OP_LOG_SOFTMAX: u32 = 1u;
override OP: u32 = OP_SOFTMAX;
override ROW_THREADS: u32 = 1u; // a power of two dividing WORKGROUP_SIZE

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> grad_y: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad_x: array<f32>;

const LOWEST: f32 = -3.4028234663852886e38;

struct Row {
  base: u32,   // index of the row's first element
  lane: u32,   // this invocation's place among the row's ROW_THREADS
  length: u32, // 0 for the padding invocations past the last row, which only join the barriers
}

fn row_of(id: vec3<u32>, local: u32, groups: vec3<u32>) -> Row {
  // 2-D grid (x up to 65535 workgroups); a workgroup holds whole rows since ROW_THREADS divides it.
  let row = (id.x + id.y * groups.x * WORKGROUP_SIZE) / ROW_THREADS;
  let o = row / params.inner;
  let i = row % params.inner;
  let live = row < params.outer * params.inner;
  return Row(o * params.axis_size * params.inner + i, local % ROW_THREADS, select(0u, params.axis_size, live));
}

fn at(row: Row, k: u32) -> u32 {
  return row.base + k * params.inner;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn softmax_forward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(local_invocation_index) local: u32,
                   @builtin(num_workgroups) groups: vec3<u32>) {
  let row = row_of(id, local, groups);
  var m = LOWEST;
  for (var k = row.lane; k < row.length; k += ROW_THREADS) { m = max(m, x[at(row, k)]); }
  m = row_max(local, m);
  // Subtracting the row maximum keeps every exp ≤ 1: no overflow, and the sum is ≥ 1.
  var s = 0.0;
  for (var k = row.lane; k < row.length; k += ROW_THREADS) { s += exp(x[at(row, k)] - m); }
  s = row_sum(local, s);
  let log_s = log(s);
  let inv_s = 1.0 / s;
  for (var k = row.lane; k < row.length; k += ROW_THREADS) {
    let shifted = x[at(row, k)] - m;
    y[at(row, k)] = select(exp(shifted) * inv_s, shifted - log_s, OP == OP_LOG_SOFTMAX);
  }
}

// From the saved output y. Softmax: dx = y ⊙ (dy − Σ dy⊙y); LogSoftmax: dx = dy − exp(y) · Σ dy.
@compute @workgroup_size(WORKGROUP_SIZE)
fn softmax_backward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(local_invocation_index) local: u32,
                    @builtin(num_workgroups) groups: vec3<u32>) {
  let row = row_of(id, local, groups);
  var s = 0.0;
  for (var k = row.lane; k < row.length; k += ROW_THREADS) {
    let j = at(row, k);
    s += select(grad_y[j] * y[j], grad_y[j], OP == OP_LOG_SOFTMAX);
  }
  s = row_sum(local, s);
  for (var k = row.lane; k < row.length; k += ROW_THREADS) {
    let j = at(row, k);
    let g = select(y[j] * (grad_y[j] - s), grad_y[j] - exp(y[j]) * s, OP == OP_LOG_SOFTMAX);
    grad_x[j] = select(g, grad_x[j] + g, params.accumulate == 1u);
  }
}
