// ONNX Resize on the two spatial axes of NCHW (N and C unchanged), nearest or bilinear; the backward is a gather.
// Per axis the source coordinate is x_original = (o·coord_mul + coord_add) / coord_den, integers that
// src/kernels/resize.ts derives from coordinate_transformation_mode, so floors and nearest_mode's halfway ties
// are decided exactly. Vectors are (h, w).
// uses: grid (WORKGROUP_SIZE, flat_index: shaders/lib/grid.wgsl)

struct Params {
  planes: u32,            // N·C
  in_size: vec2<i32>,
  out_size: vec2<i32>,
  coord_mul: vec2<i32>,
  coord_add: vec2<i32>,
  coord_den: vec2<i32>,   // > 0
  accumulate: u32,        // backward: 1 adds into grad_x (a tensor read by several nodes), 0 overwrites
}

// Enum codes, read by name in src/kernels/wgsl.ts (ONNX's attribute values).
const MODE_NEAREST: u32 = 0u;
const MODE_LINEAR: u32 = 1u;
const NEAREST_MODE_ROUND_PREFER_FLOOR: u32 = 0u;
const NEAREST_MODE_ROUND_PREFER_CEIL: u32 = 1u;
const NEAREST_MODE_FLOOR: u32 = 2u;
const NEAREST_MODE_CEIL: u32 = 3u;
override MODE: u32 = MODE_LINEAR;
override NEAREST_MODE: u32 = NEAREST_MODE_ROUND_PREFER_FLOOR;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> grad_y: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad_x: array<f32>;

fn floor_div(a: i32, b: i32) -> i32 { // b > 0; WGSL's / truncates toward zero
  let q = a / b;
  return select(q, q - 1, a % b != 0 && a < 0);
}

// What output coordinate o reads on one axis: (1 − weight)·x[first] + weight·x[second].
struct Taps {
  first: i32,
  second: i32,
  weight: f32,
}

fn axis_taps(o: i32, axis: u32) -> Taps {
  let num = o * params.coord_mul[axis] + params.coord_add[axis];
  let den = params.coord_den[axis];
  let last = params.in_size[axis] - 1;
  let whole = floor_div(num, den);
  let rest = num - whole * den; // x_original = whole + rest / den, 0 ≤ rest < den
  if (MODE == MODE_NEAREST) {
    var up: bool;
    switch NEAREST_MODE {
      case NEAREST_MODE_ROUND_PREFER_FLOOR: { up = 2 * rest > den; } // halfway goes down
      case NEAREST_MODE_ROUND_PREFER_CEIL: { up = 2 * rest >= den; } // halfway goes up
      case NEAREST_MODE_FLOOR: { up = false; }
      case NEAREST_MODE_CEIL, default: { up = rest > 0; }
    }
    let i = clamp(whole + select(0, 1, up), 0, last); // ONNX's edge padding
    return Taps(i, i, 0.0);
  }
  // Linear: ONNX's edge padding is the source coordinate clamped to [0, in − 1].
  if (num < 0) { return Taps(0, 0, 0.0); }
  if (whole >= last) { return Taps(last, last, 0.0); }
  return Taps(whole, whole + 1, f32(rest) / f32(den));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn resize_forward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  let out_plane = u32(params.out_size.x * params.out_size.y);
  if (i >= params.planes * out_plane) { return; }
  let o = i % out_plane;
  let row = axis_taps(i32(o / u32(params.out_size.y)), 0u);
  let column = axis_taps(i32(o % u32(params.out_size.y)), 1u);
  let width = params.in_size.y;
  let base = i32((i / out_plane) * u32(params.in_size.x * width));
  if (MODE == MODE_NEAREST) {
    y[i] = x[base + row.first * width + column.first];
    return;
  }
  let top = mix(x[base + row.first * width + column.first], x[base + row.first * width + column.second], column.weight);
  let bottom = mix(x[base + row.second * width + column.first], x[base + row.second * width + column.second], column.weight);
  y[i] = mix(top, bottom, row.weight);
}

fn weight_on(taps: Taps, i: i32) -> f32 {
  return select(0.0, 1.0 - taps.weight, taps.first == i) + select(0.0, taps.weight, taps.second == i);
}

// Outputs that may read input i on one axis: every mode reads i only from x_original in [i − 1, i + 1] (or beyond
// the ends, for the edge inputs). Widened by one; axis_taps then decides exactly.
fn candidate_outputs(i: i32, axis: u32) -> vec2<i32> {
  let last_out = params.out_size[axis] - 1;
  let mul = params.coord_mul[axis];
  if (mul == 0) { return vec2<i32>(0, last_out); } // every output reads the same coordinate
  let den = params.coord_den[axis];
  let add = params.coord_add[axis];
  let lo = select(floor_div((i - 1) * den - add, mul) - 1, 0, i == 0);
  let hi = select(floor_div((i + 1) * den - add, mul) + 1, last_out, i == params.in_size[axis] - 1);
  return vec2<i32>(max(lo, 0), min(hi, last_out));
}

// grad_x[iy, ix] = Σ_oy Σ_ox w_row(oy, iy) · w_column(ox, ix) · grad_y[oy, ox]: the interpolation is separable.
@compute @workgroup_size(WORKGROUP_SIZE)
fn resize_backward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  let in_plane = u32(params.in_size.x * params.in_size.y);
  if (i >= params.planes * in_plane) { return; }
  let p = i % in_plane;
  let iy = i32(p / u32(params.in_size.y));
  let ix = i32(p % u32(params.in_size.y));
  let rows = candidate_outputs(iy, 0u);
  let columns = candidate_outputs(ix, 1u);
  let base = i32((i / in_plane) * u32(params.out_size.x * params.out_size.y));
  var sum = 0.0;
  for (var oy = rows.x; oy <= rows.y; oy++) {
    let wy = weight_on(axis_taps(oy, 0u), iy);
    if (wy == 0.0) { continue; }
    var row_sum = 0.0;
    for (var ox = columns.x; ox <= columns.y; ox++) {
      let wx = weight_on(axis_taps(ox, 1u), ix);
      if (wx != 0.0) { row_sum += wx * grad_y[base + oy * params.out_size.y + ox]; }
    }
    sum += wy * row_sum;
  }
  grad_x[i] = select(sum, grad_x[i] + sum, params.accumulate == 1u);
}
