// Reductions over the ROW_THREADS invocations that share a row: a power of two dividing WORKGROUP_SIZE, a row being an
// aligned block of local_invocation_index. The module declares `override ROW_THREADS: u32`. Every invocation of the
// workgroup calls these in uniform control flow; the combination is a fixed-order tree in workgroup memory, so the
// results are deterministic. shaders/lib/row-reduce-subgroups.wgsl has the same functions on subgroup operations.

const ROW_SUM: u32 = 0u;
const ROW_MAX: u32 = 1u;
const ROW_ARGMAX: u32 = 2u; // (value, index as f32): the larger value, the smaller index among equal ones

var<workgroup> row_partial: array<vec2<f32>, WORKGROUP_SIZE>;

fn row_combine(a: vec2<f32>, b: vec2<f32>, how: u32) -> vec2<f32> {
  if (how == ROW_ARGMAX) { return select(a, b, b.x > a.x || (b.x == a.x && b.y < a.y)); }
  return select(a + b, max(a, b), how == ROW_MAX);
}

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

fn row_sum(local: u32, value: f32) -> f32 { return row_reduce2(local, vec2(value, 0.0), ROW_SUM).x; }
fn row_max(local: u32, value: f32) -> f32 { return row_reduce2(local, vec2(value, 0.0), ROW_MAX).x; }
fn row_sum2(local: u32, value: vec2<f32>) -> vec2<f32> { return row_reduce2(local, value, ROW_SUM); }

// The row's maximum (as bits) and its first index; `index` 0xffffffff (none) loses to any other. Indices travel as f32,
// exact below 2^24: rows (a classifier's classes) must be shorter than that.
fn row_argmax(local: u32, value: f32, index: u32) -> vec2<u32> {
  let none = 16777216.0; // 2^24
  let best = row_reduce2(local, vec2(value, select(f32(index), none, index >= 16777216u)), ROW_ARGMAX);
  return vec2(bitcast<u32>(best.x), select(u32(best.y), 0xffffffffu, best.y >= none));
}
