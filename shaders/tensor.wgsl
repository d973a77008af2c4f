// Layout ops as strided copies: Transpose, Concat and the backwards of Transpose, Concat, ReduceMean and ReduceSum.
// The reductions (ReduceMean, ReduceSum, ReduceL2, ReduceMax, ReduceMin) are strided folds. An element index of the
// contiguous side is written in the mixed radix `shape`; its digits times `strides` (plus `offset`) locate the
// element on the strided side.
// uses: grid (WORKGROUP_SIZE, flat_index: shaders/lib/grid.wgsl)

struct Params {
  count: u32,        // elements of the contiguous side (ReduceMean: of the output)
  rank: u32,         // axes used in shape and strides, after coalescing
  offset: u32,       // strided side's element at index 0 (Concat: the input's slice)
  accumulate: u32,   // copies into a gradient: 1 adds into destination, 0 overwrites
  scale: f32,        // factor on each copied value or on each sum (ReduceMean: 1/n)
  reduced_rank: u32, // ReduceMean: axes summed over
  reduce_count: u32, // ReduceMean: n, the elements in each sum
  shape: array<vec4<u32>, 2>,
  strides: array<vec4<u32>, 2>, // 0 on an axis the strided side broadcasts along
  reduced_shape: array<vec4<u32>, 2>,
  reduced_strides: array<vec4<u32>, 2>,
}

// Enum codes of REDUCTION, read by name in src/kernels/wgsl.ts.
const REDUCTION_MEAN: u32 = 0u; // the sum times params.scale = 1/n
const REDUCTION_SUM: u32 = 1u;
const REDUCTION_L2: u32 = 2u;
const REDUCTION_MAX: u32 = 3u;
const REDUCTION_MIN: u32 = 4u;
override REDUCTION: u32 = REDUCTION_MEAN;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> source: array<f32>;
@group(0) @binding(2) var<storage, read_write> destination: array<f32>;
// Max and Min: how many inputs of each output equal it (the forward writes, the backward splits the gradient).
@group(0) @binding(3) var<storage, read_write> ties: array<f32>;
// The backward of L2, Max and Min: the forward's input and output (source and destination are grad_y, grad_x).
@group(0) @binding(4) var<storage, read> x: array<f32>;
@group(0) @binding(5) var<storage, read> y: array<f32>;

var<workgroup> partial_sums: array<f32, WORKGROUP_SIZE>;

fn strided_offset(index: u32) -> u32 {
  var n = index;
  var offset = 0u;
  for (var d = params.rank; d > 0u; d--) {
    let extent = params.shape[(d - 1u) / 4u][(d - 1u) % 4u];
    offset += (n % extent) * params.strides[(d - 1u) / 4u][(d - 1u) % 4u];
    n /= extent;
  }
  return offset;
}

fn reduced_offset(index: u32) -> u32 {
  var n = index;
  var offset = 0u;
  for (var d = params.reduced_rank; d > 0u; d--) {
    let extent = params.reduced_shape[(d - 1u) / 4u][(d - 1u) % 4u];
    offset += (n % extent) * params.reduced_strides[(d - 1u) / 4u][(d - 1u) % 4u];
    n /= extent;
  }
  return offset;
}

// destination[i] (=|+=) scale · source[offset + strided(i)]: a gather, so each invocation owns its output.
@compute @workgroup_size(WORKGROUP_SIZE)
fn tensor_copy_from_strided(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.count) { return; }
  let v = params.scale * source[params.offset + strided_offset(i)];
  destination[i] = select(v, destination[i] + v, params.accumulate == 1u);
}

// destination[offset + strided(i)] = source[i]: Concat's forward, each input's dispatch writing its own slice.
@compute @workgroup_size(WORKGROUP_SIZE)
fn tensor_copy_to_strided(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.count) { return; }
  destination[params.offset + strided_offset(i)] = source[i];
}

fn is_extreme() -> bool {
  return REDUCTION == REDUCTION_MAX || REDUCTION == REDUCTION_MIN;
}

// The fold's start and step: 0 and + for sums, the first input and max/min for the extremes.
fn fold(acc: f32, v: f32) -> f32 {
  switch REDUCTION {
    case REDUCTION_L2: { return acc + v * v; }
    case REDUCTION_MAX: { return max(acc, v); }
    case REDUCTION_MIN: { return min(acc, v); }
    case REDUCTION_MEAN, REDUCTION_SUM, default: { return acc + v; }
  }
}

fn finish(acc: f32) -> f32 {
  if (REDUCTION == REDUCTION_L2) { return sqrt(acc); }
  if (is_extreme()) { return acc; }
  return params.scale * acc;
}

// One invocation per output, folding its n inputs in order: for short folds.
@compute @workgroup_size(WORKGROUP_SIZE)
fn tensor_reduce(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let j = flat_index(id, groups);
  if (j >= params.count) { return; }
  let base = strided_offset(j);
  var acc = select(0.0, source[base], is_extreme());
  for (var k = 0u; k < params.reduce_count; k++) { acc = fold(acc, source[base + reduced_offset(k)]); }
  let v = finish(acc);
  destination[j] = v;
  if (is_extreme()) {
    var count = 0.0;
    for (var k = 0u; k < params.reduce_count; k++) { count += select(0.0, 1.0, source[base + reduced_offset(k)] == v); }
    ties[j] = count;
  }
}

// One workgroup per output: lanes read neighbouring inputs, then a fixed-order tree fold (deterministic).
@compute @workgroup_size(WORKGROUP_SIZE)
fn tensor_reduce_cooperative(
  @builtin(workgroup_id) group: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let j = group.x + group.y * groups.x;
  if (j >= params.count) { return; } // uniform across the workgroup: every lane has the same j
  let base = strided_offset(j);
  var acc = select(0.0, source[base], is_extreme());
  for (var k = lane; k < params.reduce_count; k += WORKGROUP_SIZE) { acc = fold(acc, source[base + reduced_offset(k)]); }
  partial_sums[lane] = acc;
  workgroupBarrier();
  for (var width = WORKGROUP_SIZE / 2u; width > 0u; width /= 2u) {
    if (lane < width) { partial_sums[lane] = select(partial_sums[lane] + partial_sums[lane + width], fold(partial_sums[lane], partial_sums[lane + width]), is_extreme()); }
    workgroupBarrier();
  }
  let v = finish(partial_sums[0]);
  if (lane == 0u) { destination[j] = v; }
  if (!is_extreme()) { return; }
  workgroupBarrier();
  var count = 0.0;
  for (var k = lane; k < params.reduce_count; k += WORKGROUP_SIZE) { count += select(0.0, 1.0, source[base + reduced_offset(k)] == v); }
  partial_sums[lane] = count;
  workgroupBarrier();
  for (var width = WORKGROUP_SIZE / 2u; width > 0u; width /= 2u) {
    if (lane < width) { partial_sums[lane] += partial_sums[lane + width]; }
    workgroupBarrier();
  }
  if (lane == 0u) { ties[j] = partial_sums[0]; }
}

// grad_x (=|+=) the gradient of L2, Max or Min, one invocation per input: grad_y·x/y (0 where y = 0), or grad_y
// split evenly among the inputs equal to the extreme. `strides` locate each input's output (0 on reduced axes).
@compute @workgroup_size(WORKGROUP_SIZE)
fn tensor_reduce_backward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.count) { return; }
  let o = strided_offset(i);
  var g: f32;
  if (is_extreme()) {
    g = select(0.0, source[o] / ties[o], x[i] == y[o]);
  } else {
    g = select(source[o] * x[i] / y[o], 0.0, y[o] == 0.0);
  }
  destination[i] = select(g, destination[i] + g, params.accumulate == 1u);
}
