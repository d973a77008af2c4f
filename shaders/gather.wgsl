// Ops that move elements without arithmetic, one index table per axis: Slice, Split, Gather (constant indices),
// Expand, Tile and Pad. y's element at digits (y₀, y₁, …) is x's at (T₀[y₀], T₁[y₁], …), or `value` where some
// T_d[y_d] is −1 (Pad's constant mode). The backward is a gather too: each x element sums grad_y over the product of
// its per-axis preimages {y_d : T_d[y_d] = x_d}, listed in `tables` in compressed rows (no atomics).
// uses: grid (WORKGROUP_SIZE, flat_index: shaders/lib/grid.wgsl)

struct Params {
  count: u32,      // elements written: y's (forward) or grad_x's (backward)
  rank: u32,
  accumulate: u32, // backward: 1 adds into grad_x (a tensor read by several nodes), 0 overwrites
  value: f32,      // forward: where a table says −1
  out_shape: array<vec4<u32>, 2>,
  in_shape: array<vec4<u32>, 2>,
  forward_at: array<vec4<u32>, 2>, // where axis d's table T_d (out_shape[d] entries) starts in `tables`
  inverse_at: array<vec4<u32>, 2>, // where axis d's row starts (in_shape[d] + 1 entries, absolute) start in `tables`
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> source: array<f32>;           // x (forward) or grad_y (backward)
@group(0) @binding(2) var<storage, read_write> destination: array<f32>; // y (forward) or grad_x (backward)
@group(0) @binding(3) var<storage, read> tables: array<i32>;

fn axis_value(slots: array<vec4<u32>, 2>, d: u32) -> u32 {
  return slots[d / 4u][d % 4u];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn gather_forward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.count) { return; }
  var n = i;
  var at = 0u;
  var stride = 1u;
  var inside = true;
  for (var d = params.rank; d > 0u; d--) {
    let extent = axis_value(params.out_shape, d - 1u);
    let t = tables[axis_value(params.forward_at, d - 1u) + n % extent];
    n /= extent;
    inside = inside && t >= 0;
    at += u32(max(t, 0)) * stride;
    stride *= axis_value(params.in_shape, d - 1u);
  }
  destination[i] = select(params.value, source[at], inside);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn gather_backward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let j = flat_index(id, groups);
  if (j >= params.count) { return; }
  // Each axis's preimage of j's digit: rows [first[d], first[d] + size[d]) of `tables`; their product's size.
  var first: array<u32, 8>;
  var size: array<u32, 8>;
  var terms = 1u;
  var n = j;
  for (var d = params.rank; d > 0u; d--) {
    let extent = axis_value(params.in_shape, d - 1u);
    let row = axis_value(params.inverse_at, d - 1u) + n % extent;
    n /= extent;
    first[d - 1u] = u32(tables[row]);
    size[d - 1u] = u32(tables[row + 1u] - tables[row]);
    terms *= size[d - 1u];
  }
  var g = 0.0;
  for (var k = 0u; k < terms; k++) {
    var m = k;
    var at = 0u;
    var stride = 1u;
    for (var d = params.rank; d > 0u; d--) {
      at += u32(tables[first[d - 1u] + m % size[d - 1u]]) * stride;
      m /= size[d - 1u];
      stride *= axis_value(params.out_shape, d - 1u);
    }
    g += source[at];
  }
  destination[j] = select(g, destination[j] + g, params.accumulate == 1u);
}
