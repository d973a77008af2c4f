// 2-D convolution (ONNX Conv, NCHW): forward, and the input gradient as a gather (the transposed convolution).
// The general kernels are implicit GEMMs, one per group: forward rows m = (n, oh, ow), columns co, depth
// k = (ci, kh, kw); backward rows (n, ih, iw) of one stride phase, columns ci, depth (co, kh, kw) of the taps that
// reach that phase. Depthwise convolutions and those with few channels per group take the direct kernels at the end.
// The weights may be stored as f16 (the +f16 variant: AdapterOptions.precision 'f16'); each is widened to f32 as it is
// read, so every product and sum stays f32.
// uses: weights (Weight: f32, or f16 in the +f16 variant)

struct Params {
  batch: u32,
  in_channels: u32,
  height: u32,
  width: u32,
  out_channels: u32,
  out_height: u32,
  out_width: u32,
  group: u32,
  kernel_height: u32,
  kernel_width: u32,
  stride_h: u32,
  stride_w: u32,
  dilation_h: u32,
  dilation_w: u32,
  pad_top: u32,
  pad_left: u32,
  m_tiles: u32,    // GEMM: row tiles (backward: of the largest stride phase)
  n_tiles: u32,    // GEMM: column tiles per group
  has_bias: u32,
  activation: u32, // forward: ACTIVATION_*, a uniform so that one pipeline serves convolutions with and without it
}

// Backward: add into grad_x (a tensor read by several nodes) instead of overwriting it. A constant, not a uniform, as in
// pool.wgsl: otherwise every store loads the old value, which the adapter cannot know is unused.
override ACCUMULATE: bool = false;

// Workgroup tile TILE_M rows × TILE_N columns, stepping TILE_K along the depth. Each invocation owns ROWS rows
// (TILE_M / ROWS apart, so neighbouring invocations touch neighbouring positions) × 4 columns (one vec4).
// Needs TILE_M % ROWS == 0, TILE_N % 4 == 0, TILE_K % 4 == 0; the wrapper checks the limits.
override TILE_M: u32 = 64u;
override TILE_N: u32 = 64u; // defaults as the wrapper's for wide layers (src/kernels/conv2d.ts, defaultTiles)
override TILE_K: u32 = 16u;
const ROWS: u32 = 8u;
override WORKGROUP_SIZE: u32 = (TILE_M / ROWS) * (TILE_N / 4u);
const ACTIVATION_NONE: u32 = 0u; // fused epilogue after the bias; enum codes, read by name in src/kernels/wgsl.ts
const ACTIVATION_RELU: u32 = 1u;
override DIRECT_WORKGROUP_SIZE: u32 = 128u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<Weight>; // f16 in the +f16 variant: read through f32()
@group(0) @binding(3) var<storage, read> w_vec4: array<vec4<Weight>>; // the same weights, when K % 4 == 0
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<storage, read> grad_y: array<f32>;
@group(0) @binding(7) var<storage, read_write> grad_x: array<f32>;

var<workgroup> tile_a: array<f32, TILE_K * TILE_M>;            // [k][m]
var<workgroup> tile_b: array<vec4<f32>, TILE_K * TILE_N / 4u>; // [k][n], four columns per vector
// The A operand's indexing, decoded once per workgroup instead of per element (integer division is slow):
// per row, its base offset and the two spatial coordinates its bounds test needs; per depth index of the current
// and the next K tile (double-buffered), the offset and spatial shifts to add, and (backward) the weight offset.
var<workgroup> row_info: array<vec3<i32>, TILE_M>;
var<workgroup> k_info: array<vec4<i32>, 2u * TILE_K>;
var<private> acc: array<vec4<f32>, ROWS>; // the invocation's block: acc[row][column]

fn store_grad_x(i: u32, v: f32) {
  if (ACCUMULATE) { grad_x[i] += v; } else { grad_x[i] = v; }
}

const FAR: i32 = 1 << 29; // an offset that puts a position out of bounds: marks rows past M and depths past K

struct Tile {
  m: u32,
  n: u32,
  group: u32,
  phase: u32, // backward: stride phase; forward: > 0 marks workgroups past the grid
}

// Workgroups are laid out flat over (m tile, n tile, group, phase), m fastest so neighbours share weights,
// and dispatched as a 2-D grid so the count may exceed 65535.
fn tile_of(wid: vec3<u32>, groups: vec3<u32>) -> Tile {
  let flat = wid.x + wid.y * groups.x;
  let per_group = params.m_tiles * params.n_tiles;
  let rest = flat / per_group;
  return Tile(flat % params.m_tiles, (flat / params.m_tiles) % params.n_tiles, rest % params.group, rest / params.group);
}

fn multiply_tile(tid: u32) {
  let tm = tid % (TILE_M / ROWS);
  let tn = tid / (TILE_M / ROWS);
  for (var kk = 0u; kk < TILE_K; kk++) {
    let b = tile_b[kk * (TILE_N / 4u) + tn];
    let a = kk * TILE_M + tm;
    // Written out: SwiftShader keeps acc in registers only under constant indices (a loop here ran at half speed).
    acc[0] += tile_a[a + 0u * (TILE_M / ROWS)] * b;
    acc[1] += tile_a[a + 1u * (TILE_M / ROWS)] * b;
    acc[2] += tile_a[a + 2u * (TILE_M / ROWS)] * b;
    acc[3] += tile_a[a + 3u * (TILE_M / ROWS)] * b;
    acc[4] += tile_a[a + 4u * (TILE_M / ROWS)] * b;
    acc[5] += tile_a[a + 5u * (TILE_M / ROWS)] * b;
    acc[6] += tile_a[a + 6u * (TILE_M / ROWS)] * b;
    acc[7] += tile_a[a + 7u * (TILE_M / ROWS)] * b;
  }
}

// A[m, k] = x[n, ci, ih0 + kh·dh, iw0 + kw·dw] for the current tile, zero in the padding.
fn stage_forward_a(tid: u32, buffer: u32) {
  for (var e = tid; e < TILE_K * TILE_M; e += WORKGROUP_SIZE) {
    let row = row_info[e % TILE_M];
    let info = k_info[buffer * TILE_K + e / TILE_M];
    var v = 0.0;
    if (u32(row.y + info.y) < params.height && u32(row.z + info.z) < params.width) { v = x[u32(row.x + info.x)]; }
    tile_a[e] = v;
  }
}

// A[m, k] = dy[n, co, ah − bh, aw − bw] for the current tile, zero where the tap falls outside dy.
fn stage_backward_a(tid: u32, buffer: u32) {
  for (var e = tid; e < TILE_K * TILE_M; e += WORKGROUP_SIZE) {
    let row = row_info[e % TILE_M];
    let info = k_info[buffer * TILE_K + e / TILE_M];
    var v = 0.0;
    if (u32(row.y - info.y) < params.out_height && u32(row.z - info.z) < params.out_width) { v = grad_y[u32(row.x + info.x)]; }
    tile_a[e] = v;
  }
}

fn set_b(kk: u32, nn: u32, v: f32) {
  tile_b[kk * (TILE_N / 4u) + nn / 4u][nn % 4u] = v;
}

fn epilogue(v: f32, channel: u32) -> f32 {
  var s = v;
  if (params.has_bias == 1u) { s += bias[channel]; }
  if (params.activation == ACTIVATION_RELU) { s = max(s, 0.0); }
  return s;
}

// Forward depth index k = (ci, kh, kw) of one group: x offset ci·H·W + kh·dh·W + kw·dw, and kh·dh, kw·dw.
fn forward_k(k: u32) -> vec4<i32> {
  let taps = params.kernel_height * params.kernel_width;
  if (k >= (params.in_channels / params.group) * taps) { return vec4<i32>(0, FAR, FAR, 0); }
  let ci = k / taps;
  let kh = (k % taps) / params.kernel_width;
  let kw = k % params.kernel_width;
  let khd = kh * params.dilation_h;
  let kwd = kw * params.dilation_w;
  return vec4<i32>(i32(ci * params.height * params.width + khd * params.width + kwd), i32(khd), i32(kwd), 0);
}

// Forward row m = (n, oh, ow): x offset of (n, group's first channel, ih0, iw0), and ih0 = oh·sh − pt, iw0.
fn forward_row(m: u32, group: u32) -> vec3<i32> {
  let spatial = params.out_height * params.out_width;
  if (m >= params.batch * spatial) { return vec3<i32>(0, FAR, FAR); }
  let n = m / spatial;
  let oh = (m % spatial) / params.out_width;
  let ow = m % params.out_width;
  let ih0 = i32(oh * params.stride_h) - i32(params.pad_top);
  let iw0 = i32(ow * params.stride_w) - i32(params.pad_left);
  let channel0 = n * params.in_channels + group * (params.in_channels / params.group);
  return vec3<i32>(i32(channel0 * params.height * params.width) + ih0 * i32(params.width) + iw0, ih0, iw0);
}

// B[k, co] = w[group·Cout/G + co, k]: contiguous along k, so k varies fastest across invocations.
fn stage_forward_b(tid: u32, k0: u32, n0: u32, group: u32) {
  let k_total = (params.in_channels / params.group) * params.kernel_height * params.kernel_width;
  let out_per_group = params.out_channels / params.group;
  for (var e = tid; e < TILE_K * TILE_N; e += WORKGROUP_SIZE) {
    let kk = e % TILE_K;
    let co = n0 + e / TILE_K;
    var v = 0.0;
    if (co < out_per_group && k0 + kk < k_total) { v = f32(w[(group * out_per_group + co) * k_total + k0 + kk]); }
    set_b(kk, e / TILE_K, v);
  }
}

// As stage_forward_b, four depths per load; legal when K % 4 == 0 (rows of w start on a vec4 boundary).
fn stage_forward_b_vec4(tid: u32, k0: u32, n0: u32, group: u32) {
  let k_total = (params.in_channels / params.group) * params.kernel_height * params.kernel_width;
  let out_per_group = params.out_channels / params.group;
  for (var e = tid; e < TILE_K * TILE_N / 4u; e += WORKGROUP_SIZE) {
    let kq = e % (TILE_K / 4u);
    let co = n0 + e / (TILE_K / 4u);
    var v = vec4<f32>();
    if (co < out_per_group && k0 + 4u * kq < k_total) { v = vec4<f32>(w_vec4[((group * out_per_group + co) * k_total + k0) / 4u + kq]); }
    for (var j = 0u; j < 4u; j++) { set_b(4u * kq + j, e / (TILE_K / 4u), v[j]); }
  }
}

fn store_forward(tid: u32, tile: Tile) {
  let spatial = params.out_height * params.out_width;
  let out_per_group = params.out_channels / params.group;
  let col = tile.n * TILE_N + 4u * (tid / (TILE_M / ROWS));
  for (var r = 0u; r < ROWS; r++) {
    let m = tile.m * TILE_M + tid % (TILE_M / ROWS) + r * (TILE_M / ROWS);
    if (m >= params.batch * spatial) { break; }
    let n = m / spatial;
    let s = m % spatial;
    for (var j = 0u; j < 4u; j++) {
      if (col + j >= out_per_group) { break; }
      let co = tile.group * out_per_group + col + j;
      y[(n * params.out_channels + co) * spatial + s] = epilogue(acc[r][j], co);
    }
  }
}

fn forward_k_tiles() -> u32 {
  return ((params.in_channels / params.group) * params.kernel_height * params.kernel_width + TILE_K - 1u) / TILE_K;
}

// Clears the block and decodes the rows and the first K tile (the loop's first barrier publishes them).
fn forward_start(tid: u32, tile: Tile) {
  acc = array<vec4<f32>, ROWS>();
  for (var i = tid; i < TILE_M; i += WORKGROUP_SIZE) { row_info[i] = forward_row(tile.m * TILE_M + i, tile.group); }
  for (var i = tid; i < TILE_K; i += WORKGROUP_SIZE) { k_info[i] = forward_k(i); }
}

// Between the barriers every invocation has read k_info[t % 2]; the other half was last read a tile ago.
fn forward_multiply(tid: u32, t: u32) {
  for (var i = tid; i < TILE_K; i += WORKGROUP_SIZE) { k_info[((t + 1u) % 2u) * TILE_K + i] = forward_k((t + 1u) * TILE_K + i); }
  multiply_tile(tid);
}

// The two forward entry points differ only in how they load weights (each binds only the view it reads).
@compute @workgroup_size(WORKGROUP_SIZE)
fn conv2d_forward(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let tile = tile_of(wid, groups);
  if (tile.phase > 0u) { return; }
  forward_start(tid, tile);
  for (var t = 0u; t < forward_k_tiles(); t++) {
    workgroupBarrier();
    stage_forward_a(tid, t % 2u);
    stage_forward_b(tid, t * TILE_K, tile.n * TILE_N, tile.group);
    workgroupBarrier();
    forward_multiply(tid, t);
  }
  store_forward(tid, tile);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn conv2d_forward_vec4(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let tile = tile_of(wid, groups);
  if (tile.phase > 0u) { return; }
  forward_start(tid, tile);
  for (var t = 0u; t < forward_k_tiles(); t++) {
    workgroupBarrier();
    stage_forward_a(tid, t % 2u);
    stage_forward_b_vec4(tid, t * TILE_K, tile.n * TILE_N, tile.group);
    workgroupBarrier();
    forward_multiply(tid, t);
  }
  store_forward(tid, tile);
}

// Input gradient. dx[n, ci, ih, iw] = Σ dy[n, co, oh, ow] · w[co, ci, kh, kw] over co in ci's group and taps with
// ih + pad − kh·dh = oh·sh (same along w). Writing ih + pad = ph + sh·a (phase ph = (ih + pad) mod sh), the taps
// that reach ih are those with kh·dh ≡ ph (mod sh), kh = first + j·period, and then oh = a − (kh·dh − ph)/sh.
// So each phase is a dense GEMM over only its own taps: no work on the zeros a stride would insert.
struct Phase {
  first_row: u32, // first ih (iw) of the phase
  rows: u32,      // how many ih (iw) it has
  first_tap: u32, // first kh (kw) that reaches it
  period: u32,    // the next tap is `period` further
  taps: u32,      // how many taps reach it
}

fn phase_of(size: u32, kernel: u32, stride: u32, dilation: u32, pad: u32, phase: u32) -> Phase {
  let first_row = (phase + stride - pad % stride) % stride;
  let rows = select(0u, (size - first_row + stride - 1u) / stride, first_row < size);
  var period = 1u;
  while ((period * dilation) % stride != 0u) { period++; }
  var first_tap = kernel;
  for (var t = 0u; t < min(kernel, period); t++) {
    if ((t * dilation) % stride == phase) { first_tap = t; break; }
  }
  let taps = select(0u, (kernel - first_tap + period - 1u) / period, first_tap < kernel);
  return Phase(first_row, rows, first_tap, period, taps);
}

struct Phases {
  h: Phase,
  w: Phase,
  index_h: u32, // ph
  index_w: u32,
}

// Backward depth index k = (co, jh, jw) of one phase: dy offset co·OH·OW − bh·OW − bw, bh, bw, and the w offset.
fn backward_k(k: u32, p: Phases, group: u32) -> vec4<i32> {
  let taps = p.h.taps * p.w.taps;
  let out_per_group = params.out_channels / params.group;
  if (k >= out_per_group * taps) { return vec4<i32>(0, FAR, FAR, -1); }
  let co = k / taps;
  let kh = p.h.first_tap + ((k % taps) / p.w.taps) * p.h.period;
  let kw = p.w.first_tap + (k % p.w.taps) * p.w.period;
  let bh = (kh * params.dilation_h - p.index_h) / params.stride_h;
  let bw = (kw * params.dilation_w - p.index_w) / params.stride_w;
  let kernel_size = params.kernel_height * params.kernel_width;
  let w_offset = (group * out_per_group + co) * (params.in_channels / params.group) * kernel_size + kh * params.kernel_width + kw;
  let dy_offset = i32(co * params.out_height * params.out_width) - i32(bh * params.out_width + bw);
  return vec4<i32>(dy_offset, i32(bh), i32(bw), i32(w_offset));
}

// (ih, iw) of row m = (n, qh, qw) of the phase.
fn backward_position(m: u32, p: Phases) -> vec2<u32> {
  let q = m % (p.h.rows * p.w.rows);
  return vec2<u32>(p.h.first_row + (q / p.w.rows) * params.stride_h, p.w.first_row + (q % p.w.rows) * params.stride_w);
}

// Backward row: dy offset of (n, group's first channel, ah, aw), and ah = (ih + pt − ph) / sh, aw.
fn backward_row(m: u32, p: Phases, group: u32) -> vec3<i32> {
  if (m >= params.batch * p.h.rows * p.w.rows) { return vec3<i32>(0, -FAR, -FAR); }
  let n = m / (p.h.rows * p.w.rows);
  let position = backward_position(m, p);
  let ah = (position.x + params.pad_top - p.index_h) / params.stride_h;
  let aw = (position.y + params.pad_left - p.index_w) / params.stride_w;
  let channel0 = n * params.out_channels + group * (params.out_channels / params.group);
  return vec3<i32>(i32(channel0 * params.out_height * params.out_width + ah * params.out_width + aw), i32(ah), i32(aw));
}

// B[k, ci] = w[co, ci, kh, kw] with (co, kh, kw) from k_info: a stride of KH·KW along ci, so ci varies fastest.
fn stage_backward_b(tid: u32, n0: u32, buffer: u32) {
  let in_per_group = params.in_channels / params.group;
  let kernel_size = params.kernel_height * params.kernel_width;
  for (var e = tid; e < TILE_K * TILE_N; e += WORKGROUP_SIZE) {
    let kk = e / TILE_N;
    let nn = e % TILE_N;
    let w_offset = k_info[buffer * TILE_K + kk].w;
    var v = 0.0;
    if (w_offset >= 0 && n0 + nn < in_per_group) { v = f32(w[u32(w_offset) + (n0 + nn) * kernel_size]); }
    set_b(kk, nn, v);
  }
}

fn store_backward(tid: u32, tile: Tile, p: Phases) {
  let in_per_group = params.in_channels / params.group;
  let col = tile.n * TILE_N + 4u * (tid / (TILE_M / ROWS));
  for (var r = 0u; r < ROWS; r++) {
    let m = tile.m * TILE_M + tid % (TILE_M / ROWS) + r * (TILE_M / ROWS);
    if (m >= params.batch * p.h.rows * p.w.rows) { break; }
    let n = m / (p.h.rows * p.w.rows);
    let position = backward_position(m, p);
    for (var j = 0u; j < 4u; j++) {
      if (col + j >= in_per_group) { break; }
      let ci = tile.group * in_per_group + col + j;
      let index = ((n * params.in_channels + ci) * params.height + position.x) * params.width + position.y;
      store_grad_x(index, acc[r][j]);
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn conv2d_backward_input(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let tile = tile_of(wid, groups);
  if (tile.phase >= params.stride_h * params.stride_w) { return; }
  let index_h = tile.phase / params.stride_w;
  let index_w = tile.phase % params.stride_w;
  let p = Phases(
    phase_of(params.height, params.kernel_height, params.stride_h, params.dilation_h, params.pad_top, index_h),
    phase_of(params.width, params.kernel_width, params.stride_w, params.dilation_w, params.pad_left, index_w),
    index_h, index_w);
  if (tile.m * TILE_M >= params.batch * p.h.rows * p.w.rows) { return; }
  acc = array<vec4<f32>, ROWS>();
  for (var i = tid; i < TILE_M; i += WORKGROUP_SIZE) { row_info[i] = backward_row(tile.m * TILE_M + i, p, tile.group); }
  for (var i = tid; i < TILE_K; i += WORKGROUP_SIZE) { k_info[i] = backward_k(i, p, tile.group); }
  let k_tiles = ((params.out_channels / params.group) * p.h.taps * p.w.taps + TILE_K - 1u) / TILE_K;
  for (var t = 0u; t < k_tiles; t++) {
    workgroupBarrier();
    stage_backward_a(tid, t % 2u);
    stage_backward_b(tid, tile.n * TILE_N, t % 2u);
    workgroupBarrier();
    for (var i = tid; i < TILE_K; i += WORKGROUP_SIZE) { k_info[((t + 1u) % 2u) * TILE_K + i] = backward_k((t + 1u) * TILE_K + i, p, tile.group); }
    multiply_tile(tid);
  }
  store_backward(tid, tile, p);
}

// Direct kernels: one output (four along ow) per invocation, reading x, dy and w straight from memory, with no
// workgroup memory or barriers. Depthwise convolutions take them (one input channel per output channel leaves no reuse
// for a GEMM tile), and so do convolutions with few channels per group, where a GEMM tile would be mostly padding and
// CPU adapters (llvmpipe) pay for every barrier. Integer division dominates on CPU adapters, hence the blocking and the
// division-free tap walk below.
fn direct_index(id: vec3<u32>, groups: vec3<u32>) -> u32 {
  return id.x + id.y * groups.x * DIRECT_WORKGROUP_SIZE;
}

fn x_at(row: u32, iw: i32) -> f32 {
  if (u32(iw) < params.width) { return x[row + u32(iw)]; }
  return 0.0;
}

// Four neighbouring outputs along ow per invocation: one index decoding and one weight load serve four.
@compute @workgroup_size(DIRECT_WORKGROUP_SIZE)
fn conv2d_direct_forward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = direct_index(id, groups);
  let blocks = (params.out_width + 3u) / 4u;
  if (i >= params.batch * params.out_channels * params.out_height * blocks) { return; }
  let ow0 = (i % blocks) * 4u;
  let oh = (i / blocks) % params.out_height;
  let nc = i / (blocks * params.out_height);
  let co = nc % params.out_channels;
  let in_per_group = params.in_channels / params.group;
  let channel0 = nc / params.out_channels * params.in_channels + co / (params.out_channels / params.group) * in_per_group;
  let ih0 = i32(oh * params.stride_h) - i32(params.pad_top);
  let iw0 = i32(ow0 * params.stride_w) - i32(params.pad_left);
  let sw = i32(params.stride_w);
  var sum = vec4<f32>();
  for (var c = 0u; c < in_per_group; c++) {
    let plane = (channel0 + c) * params.height;
    let taps = (co * in_per_group + c) * params.kernel_height;
    for (var kh = 0u; kh < params.kernel_height; kh++) {
      let ih = ih0 + i32(kh * params.dilation_h);
      if (u32(ih) >= params.height) { continue; }
      let row = (plane + u32(ih)) * params.width;
      for (var kw = 0u; kw < params.kernel_width; kw++) {
        let iw = iw0 + i32(kw * params.dilation_w);
        let tap = f32(w[(taps + kh) * params.kernel_width + kw]);
        sum += tap * vec4<f32>(x_at(row, iw), x_at(row, iw + sw), x_at(row, iw + 2 * sw), x_at(row, iw + 3 * sw));
      }
    }
  }
  let out_row = (nc * params.out_height + oh) * params.out_width;
  for (var o = 0u; o < 4u && ow0 + o < params.out_width; o++) { y[out_row + ow0 + o] = epilogue(sum[o], co); }
}

// t = ih + pad − kh·dh as (t / stride, t mod stride), stepped to the next kh without dividing.
fn next_tap(t: vec2<i32>, step: vec2<i32>, stride: u32) -> vec2<i32> {
  let r = t.y - step.y;
  return select(vec2<i32>(t.x - step.x, r), vec2<i32>(t.x - step.x - 1, r + i32(stride)), r < 0);
}

fn first_tap(position: u32, pad: u32, dilation: u32, stride: u32) -> array<vec2<i32>, 2> {
  let t = position + pad;
  return array<vec2<i32>, 2>(vec2<i32>(i32(t / stride), i32(t % stride)), vec2<i32>(i32(dilation / stride), i32(dilation % stride)));
}

// A tap reaches (ih, iw) when t divides by the stride, and then oh = t / stride must lie in dy. The output channels
// summed over are those of ci's group.
@compute @workgroup_size(DIRECT_WORKGROUP_SIZE)
fn conv2d_direct_backward_input(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = direct_index(id, groups);
  if (i >= params.batch * params.in_channels * params.height * params.width) { return; }
  let iw = i % params.width;
  let ih = (i / params.width) % params.height;
  let nc = i / (params.width * params.height);
  let ci = nc % params.in_channels;
  let n = nc / params.in_channels;
  let in_per_group = params.in_channels / params.group;
  let out_per_group = params.out_channels / params.group;
  let first_co = ci / in_per_group * out_per_group;
  let h = first_tap(ih, params.pad_top, params.dilation_h, params.stride_h);
  let w0 = first_tap(iw, params.pad_left, params.dilation_w, params.stride_w);
  var sum = 0.0;
  for (var co = first_co; co < first_co + out_per_group; co++) {
    let plane = (n * params.out_channels + co) * params.out_height;
    let taps = (co * in_per_group + ci % in_per_group) * params.kernel_height;
    var th = h[0];
    for (var kh = 0u; kh < params.kernel_height; kh++) {
      if (th.y == 0 && u32(th.x) < params.out_height) {
        var tw = w0[0];
        for (var kw = 0u; kw < params.kernel_width; kw++) {
          if (tw.y == 0 && u32(tw.x) < params.out_width) {
            sum += grad_y[(plane + u32(th.x)) * params.out_width + u32(tw.x)] * f32(w[(taps + kh) * params.kernel_width + kw]);
          }
          tw = next_tap(tw, w0[1], params.stride_w);
        }
      }
      th = next_tap(th, h[1], params.stride_h);
    }
  }
  store_grad_x(i, sum);
}

// Blocked direct kernels, autotune candidates (src/gpu/tune.ts): like the direct kernels (no workgroup memory, no
// barriers), but an invocation computes BLOCK_CHANNELS (4 or 8) channels × 4 neighbouring positions along the row, so
// each tap's 4 input and 4 (8) weight loads feed 16 (32) multiply-adds (the direct kernels: 5 loads for 4). Channels past the group's last read
// the last one and are not stored. The input-gradient ones are for stride 1 (any dilation), where the tap walk
// needs no phases: gradX[n, ci, ih, iw] = Σ_co Σ_kh Σ_kw dy[n, co, ih + pad_top − kh·dh, iw + pad_left − kw·dw] · w[co, ci, kh, kw].
override BLOCK_CHANNELS: u32 = 4u; // 4 or 8: the second 4 use acc_hi

fn outer4(a: vec4<f32>, b: vec4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(a * b.x, a * b.y, a * b.z, a * b.w);
}

fn dy_at(row: u32, ow: i32) -> f32 {
  if (u32(ow) < params.out_width) { return grad_y[row + u32(ow)]; }
  return 0.0;
}

// The block kernels' invocation i: BLOCK_CHANNELS channels (of one group) × four positions along a row, ordered
// (n, group, channel block, row, position block) from slowest to fastest.
struct Block {
  w0: u32,
  h: u32,
  c0: u32,
  g: u32,
  n: u32,
  valid: bool,
}

fn block_of(i: u32, width: u32, height: u32, per_group: u32) -> Block {
  let blocks_w = (width + 3u) / 4u;
  let blocks_c = (per_group + BLOCK_CHANNELS - 1u) / BLOCK_CHANNELS;
  let rest = i / (blocks_w * height);
  return Block(
    (i % blocks_w) * 4u,
    (i / blocks_w) % height,
    (rest % blocks_c) * BLOCK_CHANNELS,
    (rest / blocks_c) % params.group,
    rest / (blocks_c * params.group),
    i < params.batch * params.group * blocks_c * height * blocks_w,
  );
}

// The block stores index the accumulators only with constants (loops of fixed count, which the compilers unroll): an
// index that varies at run time makes llvmpipe keep the whole block in memory through the main loop, 2× slower
// (docs/performance.md, third session).

// y at the block's channels and positions (acc[q][p]: channel c0 + q, position w0 + p; acc_hi: channels c0 + 4 + q).
fn store_block_forward(at: Block, acc: mat4x4<f32>, acc_hi: mat4x4<f32>) {
  for (var q = 0u; q < 4u; q++) { store_forward_column(at, at.c0 + q, acc[q]); }
  if (BLOCK_CHANNELS == 8u) {
    for (var q = 0u; q < 4u; q++) { store_forward_column(at, at.c0 + 4u + q, acc_hi[q]); }
  }
}

fn store_forward_column(at: Block, c: u32, column: vec4<f32>) {
  let out_per_group = params.out_channels / params.group;
  if (c >= out_per_group) { return; }
  let channel = at.g * out_per_group + c;
  let out_row = ((at.n * params.out_channels + channel) * params.out_height + at.h) * params.out_width;
  for (var p = 0u; p < 4u; p++) {
    if (at.w0 + p < params.out_width) { y[out_row + at.w0 + p] = epilogue(column[p], channel); }
  }
}

// grad_x (=|+=) the block's input channels, laid out as in store_block_forward, at the positions first + step·p of
// row ih (the block's own at stride 1; the strided kernel's are a stride phase's).
fn store_block_input_gradient(at: Block, ih: u32, first: u32, step: u32, acc: mat4x4<f32>, acc_hi: mat4x4<f32>) {
  for (var q = 0u; q < 4u; q++) { store_input_gradient_column(at, at.c0 + q, ih, first, step, acc[q]); }
  if (BLOCK_CHANNELS == 8u) {
    for (var q = 0u; q < 4u; q++) { store_input_gradient_column(at, at.c0 + 4u + q, ih, first, step, acc_hi[q]); }
  }
}

fn store_input_gradient_column(at: Block, c: u32, ih: u32, first: u32, step: u32, column: vec4<f32>) {
  let in_per_group = params.in_channels / params.group;
  if (c >= in_per_group) { return; }
  let out_row = ((at.n * params.in_channels + at.g * in_per_group + c) * params.height + ih) * params.width;
  for (var p = 0u; p < 4u; p++) {
    let iw = first + step * p;
    if (iw < params.width) { store_grad_x(out_row + iw, column[p]); }
  }
}

@compute @workgroup_size(DIRECT_WORKGROUP_SIZE)
fn conv2d_block_forward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let out_per_group = params.out_channels / params.group;
  let at = block_of(direct_index(id, groups), params.out_width, params.out_height, out_per_group);
  if (!at.valid) { return; }
  let in_per_group = params.in_channels / params.group;
  let co = min(vec4<u32>(at.c0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(out_per_group - 1u)) + vec4<u32>(at.g * out_per_group);
  let co_hi = min(vec4<u32>(at.c0) + vec4<u32>(4u, 5u, 6u, 7u), vec4<u32>(out_per_group - 1u)) + vec4<u32>(at.g * out_per_group);
  let taps_per_channel = params.kernel_height * params.kernel_width;
  let ih0 = i32(at.h * params.stride_h) - i32(params.pad_top);
  let iw0 = i32(at.w0 * params.stride_w) - i32(params.pad_left);
  let sw = i32(params.stride_w);
  var acc = mat4x4<f32>(); // acc[q][p]: channel c0 + q, position w0 + p
  var acc_hi = mat4x4<f32>(); // channels c0 + 4 + q
  for (var c = 0u; c < in_per_group; c++) {
    let plane = (at.n * params.in_channels + at.g * in_per_group + c) * params.height;
    let w_base = (co * in_per_group + vec4<u32>(c)) * taps_per_channel;
    let w_hi = (co_hi * in_per_group + vec4<u32>(c)) * taps_per_channel;
    for (var kh = 0u; kh < params.kernel_height; kh++) {
      let ih = ih0 + i32(kh * params.dilation_h);
      if (u32(ih) >= params.height) { continue; }
      let row = (plane + u32(ih)) * params.width;
      for (var kw = 0u; kw < params.kernel_width; kw++) {
        let iw = iw0 + i32(kw * params.dilation_w);
        let tap = kh * params.kernel_width + kw;
        let t = w_base + vec4<u32>(tap);
        let xv = vec4<f32>(x_at(row, iw), x_at(row, iw + sw), x_at(row, iw + 2 * sw), x_at(row, iw + 3 * sw));
        acc += outer4(xv, vec4<f32>(vec4(w[t.x], w[t.y], w[t.z], w[t.w])));
        if (BLOCK_CHANNELS == 8u) {
          let u = w_hi + vec4<u32>(tap);
          acc_hi += outer4(xv, vec4<f32>(vec4(w[u.x], w[u.y], w[u.z], w[u.w])));
        }
      }
    }
  }
  store_block_forward(at, acc, acc_hi);
}

// Stride 1: one input channel, four neighbouring positions along the row per invocation.
@compute @workgroup_size(DIRECT_WORKGROUP_SIZE)
fn conv2d_direct_backward_input_s1(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = direct_index(id, groups);
  let blocks_w = (params.width + 3u) / 4u;
  if (i >= params.batch * params.in_channels * params.height * blocks_w) { return; }
  let iw0 = (i % blocks_w) * 4u;
  let ih = (i / blocks_w) % params.height;
  let nc = i / (blocks_w * params.height);
  let ci = nc % params.in_channels;
  let n = nc / params.in_channels;
  let in_per_group = params.in_channels / params.group;
  let out_per_group = params.out_channels / params.group;
  let first_co = ci / in_per_group * out_per_group;
  let oh0 = i32(ih + params.pad_top);
  let ow0 = i32(iw0 + params.pad_left);
  var sum = vec4<f32>();
  for (var co = first_co; co < first_co + out_per_group; co++) {
    let plane = (n * params.out_channels + co) * params.out_height;
    let taps = (co * in_per_group + ci % in_per_group) * params.kernel_height;
    for (var kh = 0u; kh < params.kernel_height; kh++) {
      let oh = oh0 - i32(kh * params.dilation_h);
      if (u32(oh) >= params.out_height) { continue; }
      let row = (plane + u32(oh)) * params.out_width;
      for (var kw = 0u; kw < params.kernel_width; kw++) {
        let ow = ow0 - i32(kw * params.dilation_w);
        sum += f32(w[(taps + kh) * params.kernel_width + kw]) * vec4<f32>(dy_at(row, ow), dy_at(row, ow + 1), dy_at(row, ow + 2), dy_at(row, ow + 3));
      }
    }
  }
  let out_row = (nc * params.height + ih) * params.width;
  for (var o = 0u; o < 4u && iw0 + o < params.width; o++) {
    let index = out_row + iw0 + o;
    store_grad_x(index, sum[o]);
  }
}

// Stride 1: four input channels × four neighbouring positions along the row per invocation.
@compute @workgroup_size(DIRECT_WORKGROUP_SIZE)
fn conv2d_block_backward_input_s1(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let in_per_group = params.in_channels / params.group;
  let at = block_of(direct_index(id, groups), params.width, params.height, in_per_group);
  if (!at.valid) { return; }
  let out_per_group = params.out_channels / params.group;
  let ci_local = min(vec4<u32>(at.c0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(in_per_group - 1u));
  let ci_hi = min(vec4<u32>(at.c0) + vec4<u32>(4u, 5u, 6u, 7u), vec4<u32>(in_per_group - 1u));
  let taps_per_channel = params.kernel_height * params.kernel_width;
  let oh0 = i32(at.h + params.pad_top);
  let ow0 = i32(at.w0 + params.pad_left);
  var acc = mat4x4<f32>(); // acc[q][p]: input channel c0 + q, position w0 + p
  var acc_hi = mat4x4<f32>(); // input channels c0 + 4 + q
  for (var co = at.g * out_per_group; co < (at.g + 1u) * out_per_group; co++) {
    let plane = (at.n * params.out_channels + co) * params.out_height;
    let w_base = (vec4<u32>(co * in_per_group) + ci_local) * taps_per_channel;
    let w_hi = (vec4<u32>(co * in_per_group) + ci_hi) * taps_per_channel;
    for (var kh = 0u; kh < params.kernel_height; kh++) {
      let oh = oh0 - i32(kh * params.dilation_h);
      if (u32(oh) >= params.out_height) { continue; }
      let row = (plane + u32(oh)) * params.out_width;
      for (var kw = 0u; kw < params.kernel_width; kw++) {
        let ow = ow0 - i32(kw * params.dilation_w);
        let tap = kh * params.kernel_width + kw;
        let t = w_base + vec4<u32>(tap);
        let dy = vec4<f32>(dy_at(row, ow), dy_at(row, ow + 1), dy_at(row, ow + 2), dy_at(row, ow + 3));
        acc += outer4(dy, vec4<f32>(vec4(w[t.x], w[t.y], w[t.z], w[t.w])));
        if (BLOCK_CHANNELS == 8u) {
          let u = w_hi + vec4<u32>(tap);
          acc_hi += outer4(dy, vec4<f32>(vec4(w[u.x], w[u.y], w[u.z], w[u.w])));
        }
      }
    }
  }
  store_block_input_gradient(at, at.h, at.w0, 1u, acc, acc_hi);
}

// Packed-weight block kernels (`ubo`, `ubo8`; the defaults on Mesa's gallivm). The block kernels above, but reading
// weights packed so that each tap's BLOCK_CHANNELS weights are whole vec4s, from a uniform buffer where they fit its
// 16 KiB, else from a storage buffer. On gallivm a storage load whose offset is not a compile-time constant runs lane
// by lane with a branch per lane, once per vector rather than per float, while a uniform load of a vec4 is a gather:
// 15–30 % per dispatch against the block kernels for small weights, 1.7–1.9× for a ResNet's 3×3 layers
// (docs/performance.md). The conv2d_pack_* kernels write the packing into w_packed_out: the weights' own packed copy,
// made by a prologue dispatch once a run (src/kernels/conv2d.ts, Dispatch.prologue).
// Packing: packed_weight((outer · KH·KW + tap) · blocks + b) holds blocked channels 4b .. 4b + 3 of the group (zero
// past its last): forward, outer = input channel and blocked = output channels; input gradient, outer = output channel
// and blocked = input channels.
// Stride and dilation 1 along w (the wrapper sets it): the next tap's four inputs are this tap's shifted by one, so
// one load a tap instead of four. A constant, not a uniform test: llvmpipe would run both sides of the branch.
override SLIDE: bool = false;
// The packing is larger than the uniform array (the wrapper sets it): read it from w_packed_storage. Both bindings are
// bound either way (WGSL has no conditional bindings); the one not read gets any buffer that fits.
override PACKED_STORAGE: bool = false;
const PACKED_VEC4S: u32 = 1024u; // 16 KiB: maxUniformBufferBindingSize in WebGPU compatibility mode (the wrapper checks)
@group(0) @binding(8) var<uniform> w_packed: array<vec4<f32>, PACKED_VEC4S>;
@group(0) @binding(10) var<storage, read> w_packed_storage: array<vec4<f32>>;

fn packed_weight(i: u32) -> vec4<f32> {
  if (PACKED_STORAGE) { return w_packed_storage[i]; }
  return w_packed[i];
}

@group(0) @binding(9) var<storage, read_write> w_packed_out: array<vec4<f32>>;

// w[co, ci_local, tap] at the 4 input channels ci_local (zero past in_per_group).
fn weights_along_input(co: u32, ci_local: vec4<u32>, tap: u32) -> vec4<f32> {
  let in_per_group = params.in_channels / params.group;
  let taps = params.kernel_height * params.kernel_width;
  let at = (vec4<u32>(co * in_per_group) + min(ci_local, vec4<u32>(in_per_group - 1u))) * taps + vec4<u32>(tap);
  return select(vec4<f32>(), vec4<f32>(vec4(w[at.x], w[at.y], w[at.z], w[at.w])), ci_local < vec4<u32>(in_per_group));
}

// w[group's co_local, ci_local, tap] at the 4 output channels co_local (zero past out_per_group).
fn weights_along_output(g: u32, co_local: vec4<u32>, ci_local: u32, tap: u32) -> vec4<f32> {
  let in_per_group = params.in_channels / params.group;
  let out_per_group = params.out_channels / params.group;
  let taps = params.kernel_height * params.kernel_width;
  let co = vec4<u32>(g * out_per_group) + min(co_local, vec4<u32>(out_per_group - 1u));
  let at = (co * in_per_group + vec4<u32>(ci_local)) * taps + vec4<u32>(tap);
  return select(vec4<f32>(), vec4<f32>(vec4(w[at.x], w[at.y], w[at.z], w[at.w])), co_local < vec4<u32>(out_per_group));
}

@compute @workgroup_size(DIRECT_WORKGROUP_SIZE)
fn conv2d_pack_forward(@builtin(global_invocation_id) id: vec3<u32>) {
  let taps = params.kernel_height * params.kernel_width;
  let blocks = (params.out_channels / params.group + 3u) / 4u;
  let e = id.x;
  if (e >= params.in_channels * taps * blocks) { return; }
  let ci = e / (taps * blocks);
  let in_per_group = params.in_channels / params.group;
  let co_local = vec4<u32>(4u * (e % blocks)) + vec4<u32>(0u, 1u, 2u, 3u);
  w_packed_out[e] = weights_along_output(ci / in_per_group, co_local, ci % in_per_group, (e / blocks) % taps);
}

@compute @workgroup_size(DIRECT_WORKGROUP_SIZE)
fn conv2d_pack_backward_input(@builtin(global_invocation_id) id: vec3<u32>) {
  let taps = params.kernel_height * params.kernel_width;
  let blocks = (params.in_channels / params.group + 3u) / 4u;
  let e = id.x;
  if (e >= params.out_channels * taps * blocks) { return; }
  let ci_local = vec4<u32>(4u * (e % blocks)) + vec4<u32>(0u, 1u, 2u, 3u);
  w_packed_out[e] = weights_along_input(e / (taps * blocks), ci_local, (e / blocks) % taps);
}

@compute @workgroup_size(DIRECT_WORKGROUP_SIZE)
fn conv2d_ubo_forward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let out_per_group = params.out_channels / params.group;
  let at = block_of(direct_index(id, groups), params.out_width, params.out_height, out_per_group);
  if (!at.valid) { return; }
  let in_per_group = params.in_channels / params.group;
  let blocks = (out_per_group + 3u) / 4u;
  let ih0 = i32(at.h * params.stride_h) - i32(params.pad_top);
  let iw0 = i32(at.w0 * params.stride_w) - i32(params.pad_left);
  let sw = i32(params.stride_w);
  var acc = mat4x4<f32>();
  var acc_hi = mat4x4<f32>();
  for (var ci = at.g * in_per_group; ci < (at.g + 1u) * in_per_group; ci++) {
    let plane = (at.n * params.in_channels + ci) * params.height;
    for (var kh = 0u; kh < params.kernel_height; kh++) {
      let ih = ih0 + i32(kh * params.dilation_h);
      if (u32(ih) >= params.height) { continue; }
      let row = (plane + u32(ih)) * params.width;
      var xv = vec4<f32>(0.0, x_at(row, iw0), x_at(row, iw0 + 1), x_at(row, iw0 + 2));
      for (var kw = 0u; kw < params.kernel_width; kw++) {
        let iw = iw0 + i32(kw * params.dilation_w);
        if (SLIDE) {
          xv = vec4<f32>(xv.yzw, x_at(row, iw + 3));
        } else {
          xv = vec4<f32>(x_at(row, iw), x_at(row, iw + sw), x_at(row, iw + 2 * sw), x_at(row, iw + 3 * sw));
        }
        let packed = ((ci * params.kernel_height + kh) * params.kernel_width + kw) * blocks + at.c0 / 4u;
        acc += outer4(xv, packed_weight(packed));
        if (BLOCK_CHANNELS == 8u) { acc_hi += outer4(xv, packed_weight(packed + 1u)); }
      }
    }
  }
  store_block_forward(at, acc, acc_hi);
}

@compute @workgroup_size(DIRECT_WORKGROUP_SIZE)
fn conv2d_ubo_backward_input_s1(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let in_per_group = params.in_channels / params.group;
  let at = block_of(direct_index(id, groups), params.width, params.height, in_per_group);
  if (!at.valid) { return; }
  let out_per_group = params.out_channels / params.group;
  let blocks = (in_per_group + 3u) / 4u;
  let oh0 = i32(at.h + params.pad_top);
  let ow0 = i32(at.w0 + params.pad_left);
  var acc = mat4x4<f32>();
  var acc_hi = mat4x4<f32>();
  for (var co = at.g * out_per_group; co < (at.g + 1u) * out_per_group; co++) {
    let plane = (at.n * params.out_channels + co) * params.out_height;
    for (var kh = 0u; kh < params.kernel_height; kh++) {
      let oh = oh0 - i32(kh * params.dilation_h);
      if (u32(oh) >= params.out_height) { continue; }
      let row = (plane + u32(oh)) * params.out_width;
      var dy = vec4<f32>(dy_at(row, ow0 + 1), dy_at(row, ow0 + 2), dy_at(row, ow0 + 3), 0.0);
      for (var kw = 0u; kw < params.kernel_width; kw++) {
        let ow = ow0 - i32(kw * params.dilation_w);
        if (SLIDE) {
          dy = vec4<f32>(dy_at(row, ow), dy.xyz);
        } else {
          dy = vec4<f32>(dy_at(row, ow), dy_at(row, ow + 1), dy_at(row, ow + 2), dy_at(row, ow + 3));
        }
        let packed = ((co * params.kernel_height + kh) * params.kernel_width + kw) * blocks + at.c0 / 4u;
        acc += outer4(dy, packed_weight(packed));
        if (BLOCK_CHANNELS == 8u) { acc_hi += outer4(dy, packed_weight(packed + 1u)); }
      }
    }
  }
  store_block_input_gradient(at, at.h, at.w0, 1u, acc, acc_hi);
}

// Any stride: one stride phase per layer of workgroups (global_invocation_id.z, as conv2d_backward_input), so all the
// invocations of a workgroup loop over the same taps: llvmpipe runs a loop as long as its longest lane, and a tap
// skipped by some lanes only. Within the phase, four positions stride_w apart along a row, which each tap reaches at
// neighbouring dy positions.
@compute @workgroup_size(DIRECT_WORKGROUP_SIZE)
fn conv2d_ubo_backward_input(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let phase_h = phase_of(params.height, params.kernel_height, params.stride_h, params.dilation_h, params.pad_top, id.z / params.stride_w);
  let phase_w = phase_of(params.width, params.kernel_width, params.stride_w, params.dilation_w, params.pad_left, id.z % params.stride_w);
  let in_per_group = params.in_channels / params.group;
  let at = block_of(direct_index(id, groups), phase_w.rows, phase_h.rows, in_per_group);
  if (!at.valid) { return; }
  let ih = phase_h.first_row + at.h * params.stride_h;
  let first = phase_w.first_row + at.w0 * params.stride_w;
  let out_per_group = params.out_channels / params.group;
  let blocks = (in_per_group + 3u) / 4u;
  // The output row and column the phase's first tap reaches, and the steps between its taps' (all exact: the taps
  // reach the phase's positions at multiples of the stride; negative before the first output row). Divided once here:
  // llvmpipe divides integers lane by lane.
  let oh0 = (i32(ih + params.pad_top) - i32(phase_h.first_tap * params.dilation_h)) / i32(params.stride_h);
  let ow0 = (i32(first + params.pad_left) - i32(phase_w.first_tap * params.dilation_w)) / i32(params.stride_w);
  let oh_step = i32(phase_h.period * params.dilation_h / params.stride_h);
  let ow_step = i32(phase_w.period * params.dilation_w / params.stride_w);
  var acc = mat4x4<f32>();
  var acc_hi = mat4x4<f32>();
  for (var co = at.g * out_per_group; co < (at.g + 1u) * out_per_group; co++) {
    let plane = (at.n * params.out_channels + co) * params.out_height;
    for (var jh = 0u; jh < phase_h.taps; jh++) {
      let kh = phase_h.first_tap + jh * phase_h.period;
      let oh = oh0 - i32(jh) * oh_step;
      if (u32(oh) >= params.out_height) { continue; }
      let row = (plane + u32(oh)) * params.out_width;
      for (var jw = 0u; jw < phase_w.taps; jw++) {
        let kw = phase_w.first_tap + jw * phase_w.period;
        let ow = ow0 - i32(jw) * ow_step;
        let dy = vec4<f32>(dy_at(row, ow), dy_at(row, ow + 1), dy_at(row, ow + 2), dy_at(row, ow + 3));
        let packed = ((co * params.kernel_height + kh) * params.kernel_width + kw) * blocks + at.c0 / 4u;
        acc += outer4(dy, packed_weight(packed));
        if (BLOCK_CHANNELS == 8u) { acc_hi += outer4(dy, packed_weight(packed + 1u)); }
      }
    }
  }
  store_block_input_gradient(at, ih, first, params.stride_w, acc, acc_hi);
}
