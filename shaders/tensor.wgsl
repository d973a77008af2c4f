// Layout ops as strided copies: Transpose, Concat and the backwards of Transpose, Concat and ReduceMean.
// ReduceMean's forward is a strided sum. An element index of the contiguous side is written in the mixed
// radix `shape`; its digits times `strides` (plus `offset`) locate the element on the strided side.
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

// A power of two: the cooperative sum halves it.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> source: array<f32>;
@group(0) @binding(2) var<storage, read_write> destination: array<f32>;

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

// One invocation per output, summing its n inputs in order: for short sums.
@compute @workgroup_size(WORKGROUP_SIZE)
fn tensor_reduce_mean(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let j = flat_index(id, groups);
  if (j >= params.count) { return; }
  let base = strided_offset(j);
  var sum = 0.0;
  for (var k = 0u; k < params.reduce_count; k++) { sum += source[base + reduced_offset(k)]; }
  destination[j] = params.scale * sum;
}

// One workgroup per output: lanes read neighbouring inputs, then a fixed-order tree sum (deterministic).
@compute @workgroup_size(WORKGROUP_SIZE)
fn tensor_reduce_mean_cooperative(
  @builtin(workgroup_id) group: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lane: u32,
) {
  let j = group.x + group.y * groups.x;
  if (j >= params.count) { return; }
  let base = strided_offset(j);
  var sum = 0.0;
  for (var k = lane; k < params.reduce_count; k += WORKGROUP_SIZE) { sum += source[base + reduced_offset(k)]; }
  partial_sums[lane] = sum;
  workgroupBarrier();
  for (var width = WORKGROUP_SIZE / 2u; width > 0u; width /= 2u) {
    if (lane < width) { partial_sums[lane] += partial_sums[lane + width]; }
    workgroupBarrier();
  }
  if (lane == 0u) { destination[j] = params.scale * partial_sums[0]; }
}
