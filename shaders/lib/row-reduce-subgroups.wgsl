// shaders/lib/row-reduce.wgsl on subgroup operations: the same row_reduce2 (under row-ops.wgsl's entry points), with
// fewer workgroup barriers. A module using it is compiled with `enable subgroups;`, only on a device created with the
// feature, and only after GpuContext's probe (src/gpu/subgroups.ts) found this device's subgroups to be aligned blocks of consecutive
// local_invocation_index in a 1-D workgroup: true of every implementation known, but WebGPU does not promise it, and
// a row's lanes must share a subgroup for the butterfly below to combine them.
// Nothing is assumed of the subgroup size (a power of two in 4..128, possibly ≠ from one pipeline to another): it is
// read at run time, or taken from SUBGROUP_SIZE where the adapter has only one (then the loops unroll; measured on
// SwiftShader, a run-time size in a loop with barriers made these reductions slower than the plain tree). A row's lanes
// combine by a butterfly of subgroupShuffleXor inside their subgroup, and rows longer than a subgroup by a tree over
// their subgroups' totals in workgroup memory. Deterministic for a given subgroup size.

// The subgroup size where the host knows it in advance (the adapter's subgroupMinSize = subgroupMaxSize: set by
// src/gpu/kernels.ts); 0: read at run time (subgroupAdd(1u) in uniform control flow, every invocation active).
override SUBGROUP_SIZE: u32 = 0u;

var<workgroup> row_totals: array<vec2<f32>, WORKGROUP_SIZE>; // one per subgroup: at most WORKGROUP_SIZE / 4 used
var<workgroup> row_size: u32; // the run-time subgroup size, for the loop over totals to be workgroup-uniform

fn row_reduce2(local: u32, value: vec2<f32>, how: u32) -> vec2<f32> {
  if (ROW_THREADS == 1u) { return value; }
  var size = SUBGROUP_SIZE;
  if (SUBGROUP_SIZE == 0u) { size = subgroupAdd(1u); }
  // Butterfly over the row's lanes inside the subgroup: afterwards each holds the combination of its
  // min(ROW_THREADS, size) lanes, the same bits in each (a + b = b + a, and max likewise).
  var v = value;
  let width = min(ROW_THREADS, size);
  for (var m = 1u; m < width; m = m * 2u) { v = row_combine(v, subgroupShuffleXor(v, m), how); }
  if (ROW_THREADS <= SUBGROUP_SIZE) { return v; } // a constant test where the size is known
  workgroupBarrier(); // the previous call's reads of row_totals are done
  if (local % size == 0u) {
    row_totals[local / size] = v;
    row_size = size;
  }
  var uniform_size = SUBGROUP_SIZE;
  if (SUBGROUP_SIZE == 0u) { uniform_size = workgroupUniformLoad(&row_size); } else { workgroupBarrier(); }
  if (ROW_THREADS <= uniform_size) { return v; }
  // Rows span ROW_THREADS / size subgroups: a tree over their totals.
  let lane = local % ROW_THREADS;
  let t0 = (local - lane) / uniform_size;
  for (var s = ROW_THREADS / uniform_size / 2u; s > 0u; s = s / 2u) {
    if (lane < s) { row_totals[t0 + lane] = row_combine(row_totals[t0 + lane], row_totals[t0 + lane + s], how); }
    workgroupBarrier();
  }
  return row_totals[t0];
}
