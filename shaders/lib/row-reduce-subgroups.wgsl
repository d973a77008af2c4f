// shaders/lib/row-reduce.wgsl on subgroup operations (the module is compiled with `enable subgroups;`, only on a device
// created with the `subgroups` feature): the same functions, called the same way, with fewer workgroup barriers.
// Nothing is assumed of the subgroup size (4..128 in WebGPU, possibly ≠ from one pipeline to another): it is read at
// run time. Where each subgroup is an aligned block of consecutive local_invocation_index (every implementation known
// for a 1-D workgroup; WebGPU does not promise it, so each call checks), a row's lanes combine by a butterfly of
// subgroupShuffleXor inside their subgroup and, for rows longer than a subgroup, a tree over the subgroups' totals in
// workgroup memory. Otherwise the call falls back to the plain tree. Deterministic for a given subgroup size.

const ROW_SUM: u32 = 0u;
const ROW_MAX: u32 = 1u;

var<workgroup> row_partial: array<vec2<f32>, WORKGROUP_SIZE>; // the fallback's tree
var<workgroup> row_totals: array<vec2<f32>, WORKGROUP_SIZE>;  // one per subgroup (at most WORKGROUP_SIZE / 4 used)
// Bit log2(size) for each subgroup size met, bit 31 once a subgroup is not an aligned block: as one subgroup size and
// aligned blocks are the rule, this ends up a single bit, the same for every call of the dispatch.
var<workgroup> row_layout: atomic<u32>;
const ROW_SCATTERED: u32 = 0x80000000u;

fn row_combine(a: vec2<f32>, b: vec2<f32>, how: u32) -> vec2<f32> {
  return select(a + b, max(a, b), how == ROW_MAX);
}

fn row_reduce2(local: u32, value: vec2<f32>, how: u32) -> vec2<f32> {
  if (ROW_THREADS == 1u) { return value; }
  let size = subgroupAdd(1u);          // the subgroup size: every invocation is active here
  let id = subgroupExclusiveAdd(1u);   // subgroup_invocation_id, likewise
  let first = local - id;
  let aligned = subgroupAll(first == subgroupBroadcastFirst(first) && first % size == 0u);
  // Butterfly over the row's lanes inside the subgroup: afterwards each holds the combination of its
  // min(ROW_THREADS, size) lanes, the same bits in each (a + b = b + a, and max likewise).
  var v = value;
  let width = min(ROW_THREADS, size);
  for (var m = 1u; m < width; m = m * 2u) { v = row_combine(v, subgroupShuffleXor(v, m), how); }
  workgroupBarrier(); // the previous call's reads of row_totals and row_partial are done
  if (id == 0u) {
    atomicOr(&row_layout, select(ROW_SCATTERED, size, aligned)); // size is a power of two
    row_totals[local / size] = v;
  }
  row_partial[local] = value;
  let sizes = workgroupUniformLoad(&row_layout); // also the barrier after the writes above
  if (countOneBits(sizes) != 1u || sizes == ROW_SCATTERED) {
    let lane = local % ROW_THREADS;
    for (var s = ROW_THREADS / 2u; s > 0u; s = s / 2u) {
      if (lane < s) { row_partial[local] = row_combine(row_partial[local], row_partial[local + s], how); }
      workgroupBarrier();
    }
    return row_partial[local - lane];
  }
  if (ROW_THREADS <= sizes) { return v; } // sizes = the subgroup size, the same in every subgroup
  // Rows span ROW_THREADS / size subgroups: a tree over their totals.
  let count = ROW_THREADS / sizes;
  let lane = local % ROW_THREADS;
  let t0 = (local - lane) / sizes;
  for (var s = count / 2u; s > 0u; s = s / 2u) {
    if (lane < s) { row_totals[t0 + lane] = row_combine(row_totals[t0 + lane], row_totals[t0 + lane + s], how); }
    workgroupBarrier();
  }
  return row_totals[t0];
}

fn row_sum(local: u32, value: f32) -> f32 { return row_reduce2(local, vec2(value, 0.0), ROW_SUM).x; }
fn row_max(local: u32, value: f32) -> f32 { return row_reduce2(local, vec2(value, 0.0), ROW_MAX).x; }
fn row_sum2(local: u32, value: vec2<f32>) -> vec2<f32> { return row_reduce2(local, value, ROW_SUM); }
