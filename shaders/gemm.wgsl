// Batched GEMM for ONNX Gemm and MatMul, and (with other transposes and strides) their input gradients:
//   C[z] (=|+=) act(alpha · Σ_r op(A[z, r]) · op(B[z, r]) + beta · bias[z])
// op(A) is M×K, op(B) is K×N, C is M×N, all row-major. r runs over the reduce count (R): 1 for the forward,
// the batch for the gradient of an operand broadcast over it (stride 0), so that sum needs no second pass.
// One dispatch may take only a part of the sum, r in [r_begin, r_end) and K in [k_begin, k_end) (TILE_K-aligned):
// the wrapper splits sums too long for an adapter's loop budget (src/gpu/limits.ts) into parts that continue the
// sum in C, and only the last part (`finish`) adds the bias and applies the activation.
//
// Each workgroup owns a TILE_M×TILE_N block of C (TILE_M = BLOCK·WORKGROUP_Y, TILE_N = BLOCK·WORKGROUP_X) and walks
// K in TILE_K steps through workgroup memory; each invocation keeps a BLOCK×BLOCK block of C in registers, at rows
// y + p·WORKGROUP_Y and columns x + q·WORKGROUP_X. Strided columns make neighbouring invocations read neighbouring
// b_tile words (one vector load on SIMD software adapters, no bank conflicts on GPUs); a row of invocations reads
// the same a_tile word (a broadcast).
// Why 8×8 per invocation and 8×8 invocations (64×64 tile, TILE_K 16): on SwiftShader each workgroup-memory load
// costs ~30 cycles against ~1 per multiply-add, so the 16 loads per 64 multiply-adds of an 8×8 block beat a 4×4
// block's 8 per 16 (16×16 invocations) twice over: 512³ at 1.2 against 0.6 GFLOP per CPU-second (one thread per
// output: 0.17). TILE_K 8, 16 or 32 and 128×128 tiles measured within 10%.
// B may be weights stored as f16 (the +f16 variant: AdapterOptions.precision 'f16'); each is widened to f32 as it
// is read, so the tiles, products and sums stay f32.
// uses: weights (Weight: f32, or f16 in the +f16 variant)

struct Params {
  m: u32,
  n: u32,
  k: u32,
  batch: u32,
  r_begin: u32,
  r_end: u32,
  k_begin: u32,
  k_end: u32,
  a_batch_stride: u32, // 0 broadcasts a 2-D operand over the batch
  b_batch_stride: u32,
  c_batch_stride: u32,
  a_reduce_stride: u32,
  b_reduce_stride: u32,
  bias_batch_stride: u32, // bias[z, i, j] at z·batch + i·row + j·col: 0 for each broadcast dimension
  bias_row_stride: u32,
  bias_col_stride: u32,
  has_bias: u32,
  accumulate: u32,   // 1 adds the result into C (a gradient read by several nodes), 0 overwrites
  continue_sum: u32, // 1: C holds the earlier parts of this sum; they join it before the epilogue
  finish: u32,       // 1 adds the bias and applies the activation: the whole sum, or its last part
  alpha: f32,
  beta: f32,
  // Per launch, not override constants: one pipeline serves every Gemm, MatMul and gradient (a tiled pipeline costs
  // SwiftShader 0.5-1 s to compile; as uniforms they measured no slower, docs/performance.md).
  trans_a: u32,    // 1: A stored K×M
  trans_b: u32,    // 1: B stored N×K
  activation: u32, // ACTIVATION_*, after the bias
}

const ACTIVATION_NONE: u32 = 0u; // enum codes, read by name in src/kernels/wgsl.ts
const ACTIVATION_RELU: u32 = 1u;
override WORKGROUP_X: u32 = 8u;
override WORKGROUP_Y: u32 = 8u;
override TILE_K: u32 = 16u;
const BLOCK: u32 = 8u; // the accumulators below are written out for 8

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<Weight>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

// a_tile keeps A's storage order (M×K, or K×M when trans_a) so the copy in is contiguous on both sides;
// b_tile is always [k][n], the order the inner loop reads across invocations.
var<workgroup> a_tile: array<f32, BLOCK * WORKGROUP_Y * TILE_K>;
var<workgroup> b_tile: array<f32, BLOCK * WORKGROUP_X * TILE_K>;

// Row y + p·WORKGROUP_Y of the A tile, column kk of the K step.
fn a_at(y: u32, p: u32, kk: u32, trans_a: bool) -> f32 {
  let i = y + p * WORKGROUP_Y;
  return a_tile[select(i * TILE_K + kk, kk * BLOCK * WORKGROUP_Y + i, trans_a)];
}

fn b_at(x: u32, q: u32, kk: u32) -> f32 {
  return b_tile[kk * BLOCK * WORKGROUP_X + x + q * WORKGROUP_X];
}

// a·bᵀ: column q is a·b[q], so element [q][p] is row p, column q.
fn outer(a: vec4<f32>, b: vec4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(a * b.x, a * b.y, a * b.z, a * b.w);
}

@compute @workgroup_size(WORKGROUP_X, WORKGROUP_Y)
fn gemm_tiled(
  @builtin(local_invocation_id) local: vec3<u32>,
  @builtin(local_invocation_index) local_index: u32,
  @builtin(workgroup_id) group: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
) {
  let tile_m = BLOCK * WORKGROUP_Y;
  let tile_n = BLOCK * WORKGROUP_X;
  let threads = WORKGROUP_X * WORKGROUP_Y;
  let m = params.m;
  let n = params.n;
  let k = params.k;
  // x: column tiles; y and z together: (row tile, batch), so a large batch may pass 65535 workgroups.
  let tiles_m = (m + tile_m - 1u) / tile_m;
  let slot = group.y + group.z * groups.y;
  let z = slot / tiles_m;
  if (z >= params.batch) { return; } // uniform across the workgroup
  let row0 = (slot % tiles_m) * tile_m;
  let col0 = group.x * tile_n;
  let x = local.x;
  let y = local.y;
  let trans_a = params.trans_a == 1u;
  let trans_b = params.trans_b == 1u;

  // The 8×8 block as four 4×4 matrices (rows 0–3 / 4–7 × columns 0–3 / 4–7), not an array: SwiftShader keeps
  // a dynamically indexed array in memory.
  var acc_ll = mat4x4<f32>();
  var acc_lh = mat4x4<f32>();
  var acc_hl = mat4x4<f32>();
  var acc_hh = mat4x4<f32>();
  for (var r = params.r_begin; r < params.r_end; r++) {
    let a_base = z * params.a_batch_stride + r * params.a_reduce_stride;
    let b_base = z * params.b_batch_stride + r * params.b_reduce_stride;
    for (var k0 = params.k_begin; k0 < params.k_end; k0 += TILE_K) {
      for (var l = local_index; l < tile_m * TILE_K; l += threads) {
        var i: u32;
        var kk: u32;
        if (trans_a) { i = l % tile_m; kk = l / tile_m; } else { kk = l % TILE_K; i = l / TILE_K; }
        let row = row0 + i;
        let col = k0 + kk;
        var v = 0.0;
        if (row < m && col < k) { v = a[a_base + select(row * k + col, col * m + row, trans_a)]; }
        a_tile[l] = v;
      }
      for (var l = local_index; l < tile_n * TILE_K; l += threads) {
        var j: u32;
        var kk: u32;
        if (trans_b) { kk = l % TILE_K; j = l / TILE_K; } else { j = l % tile_n; kk = l / tile_n; }
        let row = k0 + kk;
        let col = col0 + j;
        var v = 0.0;
        if (row < k && col < n) { v = f32(b[b_base + select(row * n + col, col * k + row, trans_b)]); }
        b_tile[kk * tile_n + j] = v;
      }
      workgroupBarrier();
      for (var kk = 0u; kk < TILE_K; kk++) {
        let a_lo = vec4(a_at(y, 0u, kk, trans_a), a_at(y, 1u, kk, trans_a), a_at(y, 2u, kk, trans_a), a_at(y, 3u, kk, trans_a));
        let a_hi = vec4(a_at(y, 4u, kk, trans_a), a_at(y, 5u, kk, trans_a), a_at(y, 6u, kk, trans_a), a_at(y, 7u, kk, trans_a));
        let b_lo = vec4(b_at(x, 0u, kk), b_at(x, 1u, kk), b_at(x, 2u, kk), b_at(x, 3u, kk));
        let b_hi = vec4(b_at(x, 4u, kk), b_at(x, 5u, kk), b_at(x, 6u, kk), b_at(x, 7u, kk));
        acc_ll += outer(a_lo, b_lo);
        acc_lh += outer(a_lo, b_hi);
        acc_hl += outer(a_hi, b_lo);
        acc_hh += outer(a_hi, b_hi);
      }
      workgroupBarrier();
    }
  }

  let i = row0 + y;
  let j = col0 + x;
  store_block(z, i, j, WORKGROUP_Y, WORKGROUP_X, acc_ll);
  store_block(z, i, j + 4u * WORKGROUP_X, WORKGROUP_Y, WORKGROUP_X, acc_lh);
  store_block(z, i + 4u * WORKGROUP_Y, j, WORKGROUP_Y, WORKGROUP_X, acc_hl);
  store_block(z, i + 4u * WORKGROUP_Y, j + 4u * WORKGROUP_X, WORKGROUP_Y, WORKGROUP_X, acc_hh);
}

// Epilogue for a 4×4 block of C: rows i0 + p·row_step, columns j0 + q·col_step (gemm_tiled's invocations hold
// strided blocks, gemm_direct's contiguous ones).
fn store_block(z: u32, i0: u32, j0: u32, row_step: u32, col_step: u32, acc: mat4x4<f32>) {
  for (var p = 0u; p < 4u; p++) {
    let i = i0 + p * row_step;
    for (var q = 0u; q < 4u; q++) {
      let j = j0 + q * col_step;
      if (i < params.m && j < params.n) {
        let index = z * params.c_batch_stride + i * params.n + j;
        var v = params.alpha * acc[q][p];
        if (params.continue_sum == 1u) { v += c[index]; }
        if (params.finish == 1u) {
          if (params.has_bias == 1u) {
            v += params.beta * bias[z * params.bias_batch_stride + i * params.bias_row_stride + j * params.bias_col_stride];
          }
          if (params.activation == ACTIVATION_RELU) { v = max(v, 0.0); }
        }
        if (params.accumulate == 1u) { v += c[index]; }
        c[index] = v;
      }
    }
  }
}

// gemm_direct: the same product and parameters without workgroup memory or barriers, an autotune candidate
// (src/gpu/tune.ts). Each invocation computes a 4×4 block of C (rows i0..i0+3, columns j0..j0+3) reading A and B
// straight from storage, K four at a time. llvmpipe runs a workgroup's invocations as SIMD lanes and each barrier as a
// coroutine switch, and the blocks are smaller than gemm_tiled's 64×64, so a small product spreads over more
// workgroups (cores). Neighbouring invocations take neighbouring column blocks: one A row (a broadcast), B contiguous.
override DIRECT_WORKGROUP: u32 = 64u;

@compute @workgroup_size(DIRECT_WORKGROUP)
fn gemm_direct(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let m = params.m;
  let n = params.n;
  let k = params.k;
  let blocks_n = (n + 3u) / 4u;
  let per_batch = ((m + 3u) / 4u) * blocks_n;
  let index = id.x + id.y * groups.x * DIRECT_WORKGROUP;
  let z = index / per_batch;
  if (z >= params.batch) { return; }
  let i0 = (index % per_batch) / blocks_n * 4u;
  let j0 = (index % per_batch) % blocks_n * 4u;
  // Rows and columns past the edge read the last one (in bounds) and are never stored: no branch in the loop.
  let rows = min(vec4<u32>(i0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(m - 1u));
  let cols = min(vec4<u32>(j0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(n - 1u));
  // Offsets of the four rows of op(A) and columns of op(B), and the step between neighbouring depths.
  let trans_a = params.trans_a == 1u;
  let trans_b = params.trans_b == 1u;
  let a_row = select(rows * k, rows, trans_a);
  let a_step = select(1u, m, trans_a);
  let b_col = select(cols, cols * k, trans_b);
  let b_step = select(n, 1u, trans_b);
  var acc = mat4x4<f32>();
  for (var r = params.r_begin; r < params.r_end; r++) {
    let a_base = z * params.a_batch_stride + r * params.a_reduce_stride;
    let b_base = z * params.b_batch_stride + r * params.b_reduce_stride;
    var kk = params.k_begin;
    for (; kk + 4u <= params.k_end; kk += 4u) {
      for (var u = 0u; u < 4u; u++) {
        let ao = a_base + (kk + u) * a_step;
        let bo = b_base + (kk + u) * b_step;
        acc += outer(vec4(a[ao + a_row.x], a[ao + a_row.y], a[ao + a_row.z], a[ao + a_row.w]),
                     vec4<f32>(vec4(b[bo + b_col.x], b[bo + b_col.y], b[bo + b_col.z], b[bo + b_col.w])));
      }
    }
    for (; kk < params.k_end; kk++) {
      let ao = a_base + kk * a_step;
      let bo = b_base + kk * b_step;
      acc += outer(vec4(a[ao + a_row.x], a[ao + a_row.y], a[ao + a_row.z], a[ao + a_row.w]),
                   vec4<f32>(vec4(b[bo + b_col.x], b[bo + b_col.y], b[bo + b_col.z], b[bo + b_col.w])));
    }
  }
  store_block(z, i0, j0, 1u, 1u, acc);
}
