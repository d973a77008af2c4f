// ONNX Add, Sub, Mul, Div, Min, Max (two inputs), PRelu and Where (a constant condition choosing between a and b)
// with multidirectional broadcasting, and the input gradients as gathers: each element
// of grad_x sums its partial derivative over the output elements broadcast from it. Shapes arrive coalesced
// (extent-1 axes dropped, neighbours merged), so `rank` is often 1 to 3.
// uses: grid (WORKGROUP_SIZE, flat_index: shaders/lib/grid.wgsl)

struct Params {
  count: u32,        // elements written: y's (forward) or grad_x's (backward)
  rank: u32,
  reduce_count: u32, // backward: output elements broadcast from each grad_x element
  accumulate: u32,   // backward: 1 adds into grad_x (a tensor read by several nodes), 0 overwrites
  out_shape: array<vec4<u32>, 2>,
  a_strides: array<vec4<u32>, 2>,  // a's element step along each output axis, 0 where a broadcasts
  b_strides: array<vec4<u32>, 2>,
  c_strides: array<vec4<u32>, 2>,  // Where's condition
  grad_shape: array<vec4<u32>, 2>, // backward: grad_x's shape on the output axes (1 where x broadcasts)
}

// Enums: declared here only; src/kernels/wgsl.ts reads the codes by name.
const OP_ADD: u32 = 0u;
const OP_SUB: u32 = 1u;
const OP_MUL: u32 = 2u;
const OP_DIV: u32 = 3u;
const OP_MIN: u32 = 4u;
const OP_MAX: u32 = 5u;
const OP_PRELU: u32 = 6u; // a ≥ 0 ? a : b·a, b the slope
const OP_WHERE: u32 = 7u; // condition ≠ 0 ? a : b
const INPUT_A: u32 = 0u; // backward: the gradient of a
const INPUT_B: u32 = 1u; // backward: the gradient of b

override OP: u32 = OP_ADD;
override INPUT: u32 = INPUT_A;
override BROADCAST: bool = true; // false: a, b and y have one shape, so index i is i in all of them
// A power of two: the cooperative sum halves it.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> grad_y: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad_x: array<f32>;
@group(0) @binding(6) var<storage, read> condition: array<f32>; // Where only; other ops bind any buffer

var<workgroup> partial_sums: array<f32, WORKGROUP_SIZE>;

struct Offsets { y: u32, a: u32, b: u32, c: u32 }

const OUT_RADIX: u32 = 0u;    // an output element index
const GRAD_RADIX: u32 = 1u;   // a grad_x element index
const REDUCE_RADIX: u32 = 2u; // an index over the axes x broadcasts along

// Offsets in y, a and b of the element whose index is written in the given mixed radix over the output axes.
fn locate(index: u32, radix: u32) -> Offsets {
  var n = index;
  var o = Offsets(0u, 0u, 0u, 0u);
  var y_stride = 1u;
  for (var d = params.rank; d > 0u; d--) {
    let q = (d - 1u) / 4u;
    let r = (d - 1u) % 4u;
    let extent = params.out_shape[q][r];
    let grad_extent = params.grad_shape[q][r];
    var size = extent;
    if (radix == GRAD_RADIX) { size = grad_extent; }
    if (radix == REDUCE_RADIX) { size = select(1u, extent, grad_extent == 1u); }
    let digit = n % size;
    n /= size;
    o.y += digit * y_stride;
    o.a += digit * params.a_strides[q][r];
    o.b += digit * params.b_strides[q][r];
    o.c += digit * params.c_strides[q][r];
    y_stride *= extent;
  }
  return o;
}

fn apply(u: f32, v: f32, o: Offsets) -> f32 {
  switch OP {
    case OP_WHERE: { return select(v, u, condition[o.c] != 0.0); }
    case OP_ADD: { return u + v; }
    case OP_SUB: { return u - v; }
    case OP_MUL: { return u * v; }
    case OP_MIN: { return min(u, v); }
    case OP_MAX: { return max(u, v); }
    case OP_PRELU: { return select(v * u, u, u >= 0.0); }
    case OP_DIV, default: { return u / v; }
  }
}

// ∂(a op b)/∂x · dy for x = a or b, at one output element; Add and Sub never read a or b.
fn partial(o: Offsets) -> f32 {
  let dy = grad_y[o.y];
  if (OP == OP_ADD) { return dy; }
  if (OP == OP_WHERE) { return select(0.0, dy, (condition[o.c] != 0.0) == (INPUT == INPUT_A)); }
  if (OP == OP_MIN || OP == OP_MAX) {
    // The selected input takes dy; a tie splits it evenly (PyTorch's choice, and the central difference's).
    let mine = select(b[o.b], a[o.a], INPUT == INPUT_A);
    let other = select(a[o.a], b[o.b], INPUT == INPUT_A);
    let wins = select(mine > other, mine < other, OP == OP_MIN);
    return select(select(0.0, dy, wins), 0.5 * dy, mine == other);
  }
  if (OP == OP_PRELU) {
    let u = a[o.a];
    if (INPUT == INPUT_A) { return select(dy * b[o.b], dy, u >= 0.0); }
    return select(dy * u, 0.0, u >= 0.0);
  }
  if (OP == OP_SUB) { return select(-dy, dy, INPUT == INPUT_A); }
  if (OP == OP_MUL) {
    if (INPUT == INPUT_A) { return dy * b[o.b]; }
    return dy * a[o.a];
  }
  let bv = b[o.b];
  if (INPUT == INPUT_A) { return dy / bv; }
  return -dy * (a[o.a] / bv) / bv; // −dy·a/b², without squaring b (no overflow for large b)
}

fn term(base: Offsets, k: u32) -> f32 {
  let r = locate(k, REDUCE_RADIX);
  return partial(Offsets(base.y + r.y, base.a + r.a, base.b + r.b, base.c + r.c));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn binary_forward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.count) { return; }
  if (!BROADCAST) {
    y[i] = apply(a[i], b[i], Offsets(i, i, i, i));
    return;
  }
  let o = locate(i, OUT_RADIX);
  y[i] = apply(a[o.a], b[o.b], o);
}

// One invocation per grad_x element, summing in order: for no or short broadcast sums.
@compute @workgroup_size(WORKGROUP_SIZE)
fn binary_backward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let j = flat_index(id, groups);
  if (j >= params.count) { return; }
  var g = 0.0;
  if (!BROADCAST) {
    g = partial(Offsets(j, j, j, j));
  } else {
    let base = locate(j, GRAD_RADIX);
    for (var k = 0u; k < params.reduce_count; k++) { g += term(base, k); }
  }
  grad_x[j] = select(g, grad_x[j] + g, params.accumulate == 1u);
}

// One workgroup per grad_x element for long broadcast sums: lanes read neighbouring outputs, then a
// fixed-order tree sum (deterministic).
@compute @workgroup_size(WORKGROUP_SIZE)
fn binary_backward_cooperative(
  @builtin(workgroup_id) group: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let j = group.x + group.y * groups.x;
  if (j >= params.count) { return; }
  let base = locate(j, GRAD_RADIX);
  var sum = 0.0;
  for (var k = lane; k < params.reduce_count; k += WORKGROUP_SIZE) { sum += term(base, k); }
  partial_sums[lane] = sum;
  workgroupBarrier();
  for (var width = WORKGROUP_SIZE / 2u; width > 0u; width /= 2u) {
    if (lane < width) { partial_sums[lane] += partial_sums[lane + width]; }
    workgroupBarrier();
  }
  if (lane == 0u) {
    let g = partial_sums[0];
    grad_x[j] = select(g, grad_x[j] + g, params.accumulate == 1u);
  }
}
