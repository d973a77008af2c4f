// Reductions over the ROW_THREADS invocations that share a row: a power of two dividing WORKGROUP_SIZE, a row being an
// aligned block of local_invocation_index. The module declares `override ROW_THREADS: u32`. Every invocation of the
// workgroup calls these in uniform control flow; the combination is a fixed-order tree in workgroup memory, so the
// results are deterministic. shaders/lib/row-reduce-subgroups.wgsl defines the same row_reduce2 on subgroup operations;
// the operations and entry points (row_sum, row_max, row_sum2, row_argmax) are shaders/lib/row-ops.wgsl's.

var<workgroup> row_partial: array<vec2<f32>, WORKGROUP_SIZE>;

fn row_reduce2(local: u32, value: vec2<f32>, how: u32) -> vec2<f32> {
  if (ROW_THREADS == 1u) { return value; }
  // llvmpipe (OpenGL ES) let the previous call's read of the partials see this write despite the barrier after it: a
  // second reduction came out wrong for every row but the first. A barrier before the write too keeps them apart.
  workgroupBarrier();
  row_partial[local] = value;
  workgroupBarrier();
  let lane = local % ROW_THREADS;
  for (var s = ROW_THREADS / 2u; s > 0u; s = s / 2u) {
    if (lane < s) { row_partial[local] = row_combine(row_partial[local], row_partial[local + s], how); }
    workgroupBarrier();
  }
  let total = row_partial[local - lane];
  workgroupBarrier(); // everyone has read before the partials are reused
  return total;
}
