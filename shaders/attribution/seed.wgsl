// The gradient seed at a classifier's output: for logits [N, K] and one target class per sample, the gradient of
// L = Σ_n score_n with respect to the logits, plus the resolved target and the score, for the caller to read back.
// ROW_THREADS invocations share a sample's row and combine partial results by shaders/lib/row-reduce.wgsl's fixed-order
// tree in workgroup memory, or by subgroup operations in the module's subgroups variant. Classes: fewer than 2^24.
// uses: grid (WORKGROUP_SIZE, flat_index: shaders/lib/grid.wgsl)
// uses: row-reduce (row_reduce2 over ROW_THREADS, or its subgroups twin)
// uses: row-ops (row_argmax, row_sum)

struct Params {
  n: u32,
  k: u32, // classes
  accumulate: u32, // 1 adds into grad_logits, 0 overwrites
}

const SCORE_LOGIT: u32 = 0u; // enum codes, read by name in src/kernels/wgsl.ts
const SCORE_PROBABILITY: u32 = 1u; // softmax probability
const SCORE_LOG_PROBABILITY: u32 = 2u; // log-softmax probability
override SCORE: u32 = SCORE_LOGIT;
override ROW_THREADS: u32 = 1u; // a power of two dividing WORKGROUP_SIZE

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> target_class: array<i32>; // −1: top-1, the row's argmax
@group(0) @binding(3) var<storage, read_write> grad_logits: array<f32>;
@group(0) @binding(4) var<storage, read_write> resolved_target: array<i32>; // −1 where the target was out of range
@group(0) @binding(5) var<storage, read_write> score: array<f32>;           // 0 where the target was out of range

const LOWEST: f32 = -3.4028234663852886e38;
const NONE: u32 = 0xffffffffu;

@compute @workgroup_size(WORKGROUP_SIZE)
fn seed_gradient(@builtin(global_invocation_id) id: vec3<u32>, @builtin(local_invocation_index) local: u32,
                 @builtin(num_workgroups) groups: vec3<u32>) {
  // 2-D grid (x up to 65535 workgroups); a workgroup holds whole rows since ROW_THREADS divides it.
  let row = (id.x + id.y * groups.x * WORKGROUP_SIZE) / ROW_THREADS;
  let lane = local % ROW_THREADS;
  let live = row < params.n;
  let length = select(0u, params.k, live); // padding invocations past the last row only join the barriers
  let base = row * params.k;

  var best = LOWEST;
  var best_i = NONE;
  for (var k = lane; k < length; k += ROW_THREADS) {
    let v = logits[base + k];
    if (v > best) { best = v; best_i = k; } // strictly greater: the first maximum in this lane's increasing k
  }
  let top = row_argmax(local, best, best_i);
  let m = bitcast<f32>(top.x);

  // Softmax denominator with the maximum subtracted: every exp ≤ 1, the sum ≥ 1.
  var s = 0.0;
  if (SCORE != SCORE_LOGIT) {
    for (var k = lane; k < length; k += ROW_THREADS) { s += exp(logits[base + k] - m); }
    s = row_sum(local, s);
  }
  if (!live) { return; }

  let given = target_class[row];
  let valid = given >= -1 && given < i32(params.k) && (given >= 0 || top.y != NONE);
  let t = select(u32(given), top.y, given == -1);
  let x_t = select(0.0, logits[base + min(t, params.k - 1u)], valid);
  let p_t = exp(x_t - m) / s;
  for (var k = lane; k < length; k += ROW_THREADS) {
    let onehot = select(0.0, 1.0, k == t);
    let p = exp(logits[base + k] - m) / s;
    var g = onehot; // d logit_t
    if (SCORE == SCORE_PROBABILITY) { g = p_t * (onehot - p); } // d p_t = p_t (δ_tk − p_k)
    if (SCORE == SCORE_LOG_PROBABILITY) { g = onehot - p; }         // d log p_t = δ_tk − p_k
    g = select(0.0, g, valid); // an out-of-range target seeds nothing
    grad_logits[base + k] = select(g, grad_logits[base + k] + g, params.accumulate == 1u);
  }
  if (lane == 0u) {
    resolved_target[row] = select(-1, i32(t), valid);
    let value = select(x_t, select(x_t - m - log(s), p_t, SCORE == SCORE_PROBABILITY), SCORE != SCORE_LOGIT);
    score[row] = select(0.0, value, valid);
  }
}
