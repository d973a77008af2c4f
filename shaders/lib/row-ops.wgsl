// The row reductions' operations and entry points, shared by shaders/lib/row-reduce.wgsl (workgroup-memory tree) and
// its twin row-reduce-subgroups.wgsl, which each define row_reduce2. A module using them says `// uses: row-ops` and
// `// uses: row-reduce`.

const ROW_SUM: u32 = 0u;
const ROW_MAX: u32 = 1u;
const ROW_ARGMAX: u32 = 2u; // (value, index as f32): the larger value, the smaller index among equal ones

fn row_combine(a: vec2<f32>, b: vec2<f32>, how: u32) -> vec2<f32> {
  if (how == ROW_ARGMAX) { return select(a, b, b.x > a.x || (b.x == a.x && b.y < a.y)); }
  return select(a + b, max(a, b), how == ROW_MAX);
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
