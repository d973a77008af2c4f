// 2-D pooling over NCHW: MaxPool (saving its argmax), AveragePool, GlobalAveragePool; backward passes as gathers.
// Windows as ONNX: window o starts at o·stride − pad_begin and taps start + k·dilation, k < kernel. Vectors are (h, w).
// uses: grid (WORKGROUP_SIZE, flat_index: shaders/lib/grid.wgsl)

struct Params {
  planes: u32,              // N·C
  in_size: vec2<i32>,
  out_size: vec2<i32>,
  kernel: vec2<i32>,
  strides: vec2<i32>,
  pads_begin: vec2<i32>,    // (top, left)
  pads_end: vec2<i32>,      // (bottom, right)
  dilations: vec2<i32>,
  count_include_pad: u32,   // AveragePool divisor: 1 counts padding taps (PyTorch's count_include_pad)
}

// Backward: add into grad_x (a tensor read by several nodes) instead of overwriting it. A constant, not a uniform:
// otherwise every store loads the old value, which the adapter cannot know is unused.
override ACCUMULATE: bool = false;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
// MaxPool's winner per output: its index in the (n, c) plane, ih·W + iw; NO_WINDOW where the window holds no input.
@group(0) @binding(3) var<storage, read_write> argmax: array<u32>;
@group(0) @binding(4) var<storage, read> grad_y: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad_x: array<f32>;

const NO_WINDOW: u32 = 0xffffffffu;

fn out_plane() -> u32 { return u32(params.out_size.x * params.out_size.y); }
fn in_plane() -> u32 { return u32(params.in_size.x * params.in_size.y); }

fn window_start(o: vec2<i32>) -> vec2<i32> {
  return o * params.strides - params.pads_begin;
}

// Outputs whose window span [start, start + (k−1)·d] holds input position i, per axis: lo ≤ o ≤ hi (maybe empty).
fn covering_windows(i: vec2<i32>) -> array<vec2<i32>, 2> {
  let last = i + params.pads_begin;                              // o·s ≤ i + pad
  let first = last - (params.kernel - 1) * params.dilations;     // o·s ≥ i + pad − (k−1)·d
  let lo = select(vec2<i32>(0), (first + params.strides - 1) / params.strides, first > vec2<i32>(0));
  let hi = min(last / params.strides, params.out_size - 1);
  return array<vec2<i32>, 2>(lo, hi);
}

fn store_grad(i: u32, g: f32) {
  if (ACCUMULATE) { grad_x[i] += g; } else { grad_x[i] = g; }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn pool_max_forward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.planes * out_plane()) { return; }
  let o = i % out_plane();
  let start = window_start(vec2<i32>(i32(o / u32(params.out_size.y)), i32(o % u32(params.out_size.y))));
  let base = (i / out_plane()) * in_plane();
  let neg_inf_bits = 0xff800000u; // a let, not a const: a constant −∞ is a compile error
  var best = bitcast<f32>(neg_inf_bits); // padding never wins
  var best_at = NO_WINDOW;
  for (var kh = 0; kh < params.kernel.x; kh++) {
    let ih = start.x + kh * params.dilations.x;
    if (ih < 0 || ih >= params.in_size.x) { continue; }
    for (var kw = 0; kw < params.kernel.y; kw++) {
      let iw = start.y + kw * params.dilations.y;
      if (iw < 0 || iw >= params.in_size.y) { continue; }
      let at = u32(ih * params.in_size.y + iw);
      let v = x[base + at];
      // Strict >: ties keep the first maximal element in row-major window order, as PyTorch.
      if (best_at == NO_WINDOW || v > best) {
        best = v;
        best_at = at;
      }
    }
  }
  y[i] = best;
  argmax[i] = best_at;
}

// Output i of a pool whose windows tile the input (strides = kernel, dilation 1, no padding, out·stride = in): its
// plane's offset in the input, its window's first tap within the plane, and the input's row width.
struct TiledWindow {
  base: u32,
  first: u32,
  width: u32,
}

fn tiled_window(i: u32) -> TiledWindow {
  let plane = i / out_plane();
  let o = i - plane * out_plane();
  let oh = o / u32(params.out_size.y);
  let ow = o - oh * u32(params.out_size.y);
  let width = u32(params.in_size.y);
  return TiledWindow(plane * in_plane(), oh * u32(params.kernel.x) * width + ow * u32(params.kernel.y), width);
}

// The same where the windows tile the input exactly (as pool_max_backward_tiled): no bounds tests, two divisions.
@compute @workgroup_size(WORKGROUP_SIZE)
fn pool_max_forward_tiled(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.planes * out_plane()) { return; }
  let tile = tiled_window(i);
  var best = x[tile.base + tile.first];
  var best_at = tile.first;
  for (var kh = 0u; kh < u32(params.kernel.x); kh++) {
    for (var kw = 0u; kw < u32(params.kernel.y); kw++) {
      let at = tile.first + kh * tile.width + kw;
      let v = x[tile.base + at];
      // Strict >: ties keep the first maximal element in row-major window order, as PyTorch.
      if (v > best) {
        best = v;
        best_at = at;
      }
    }
  }
  y[i] = best;
  argmax[i] = best_at;
}

// grad_x[p] = Σ grad_y[o] over the outputs o whose window covers p and whose argmax is p.
@compute @workgroup_size(WORKGROUP_SIZE)
fn pool_max_backward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.planes * in_plane()) { return; }
  let p = i % in_plane();
  let range = covering_windows(vec2<i32>(i32(p / u32(params.in_size.y)), i32(p % u32(params.in_size.y))));
  let base = (i / in_plane()) * out_plane();
  var sum = 0.0;
  for (var oh = range[0].x; oh <= range[1].x; oh++) {
    for (var ow = range[0].y; ow <= range[1].y; ow++) {
      let o = base + u32(oh * params.out_size.y + ow);
      if (argmax[o] == p) { sum += grad_y[o]; }
    }
  }
  store_grad(i, sum);
}

// The same gradient where the windows tile the input exactly (strides = kernel, dilation 1, no padding, out·stride = in):
// one invocation per window writes each of its taps, gradY to the argmax and 0 elsewhere. A quarter of the
// invocations for 2×2 windows and three integer divisions for a window instead of eight an element (division by a
// run-time value is a scalar loop on llvmpipe).
@compute @workgroup_size(WORKGROUP_SIZE)
fn pool_max_backward_tiled(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.planes * out_plane()) { return; }
  let tile = tiled_window(i);
  let winner = argmax[i];
  let g = grad_y[i];
  for (var kh = 0u; kh < u32(params.kernel.x); kh++) {
    for (var kw = 0u; kw < u32(params.kernel.y); kw++) {
      let at = tile.first + kh * tile.width + kw;
      store_grad(tile.base + at, select(0.0, g, at == winner));
    }
  }
}

// Taps of window o, per axis, inside [0, in) or, with count_include_pad, inside the padded input [−pad_begin, in + pad_end):
// PyTorch's avg_pool2d divisor, which leaves out ceil mode's overhang past the padding.
fn divisor(o: vec2<i32>) -> i32 {
  let start = window_start(o);
  let end = select(params.in_size, params.in_size + params.pads_end, params.count_include_pad == 1u);
  let lo = select(vec2<i32>(0), (-start + params.dilations - 1) / params.dilations, start < vec2<i32>(0));
  let room = end - 1 - start; // < 0 only for a window wholly in the end padding
  let hi = select(min(params.kernel - 1, room / params.dilations), vec2<i32>(-1), room < vec2<i32>(0));
  let lo_used = select(lo, vec2<i32>(0), params.count_include_pad == 1u);
  let taps = max(hi - lo_used + 1, vec2<i32>(0));
  return taps.x * taps.y;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn pool_average_forward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.planes * out_plane()) { return; }
  let o = i % out_plane();
  let window = vec2<i32>(i32(o / u32(params.out_size.y)), i32(o % u32(params.out_size.y)));
  let start = window_start(window);
  let base = (i / out_plane()) * in_plane();
  var sum = 0.0;
  for (var kh = 0; kh < params.kernel.x; kh++) {
    let ih = start.x + kh * params.dilations.x;
    if (ih < 0 || ih >= params.in_size.x) { continue; }
    for (var kw = 0; kw < params.kernel.y; kw++) {
      let iw = start.y + kw * params.dilations.y;
      if (iw >= 0 && iw < params.in_size.y) { sum += x[base + u32(ih * params.in_size.y + iw)]; }
    }
  }
  let d = divisor(window);
  y[i] = select(0.0, sum / f32(d), d > 0);
}

// grad_x[p] = Σ grad_y[o] / divisor(o) over the windows o with a tap on p.
@compute @workgroup_size(WORKGROUP_SIZE)
fn pool_average_backward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.planes * in_plane()) { return; }
  let p = i % in_plane();
  let at = vec2<i32>(i32(p / u32(params.in_size.y)), i32(p % u32(params.in_size.y)));
  let range = covering_windows(at);
  let base = (i / in_plane()) * out_plane();
  var sum = 0.0;
  for (var oh = range[0].x; oh <= range[1].x; oh++) {
    if ((at.x + params.pads_begin.x - oh * params.strides.x) % params.dilations.x != 0) { continue; } // between taps
    for (var ow = range[0].y; ow <= range[1].y; ow++) {
      if ((at.y + params.pads_begin.y - ow * params.strides.y) % params.dilations.y != 0) { continue; }
      sum += grad_y[base + u32(oh * params.out_size.y + ow)] / f32(divisor(vec2<i32>(oh, ow)));
    }
  }
  store_grad(i, sum);
}

// One invocation per (n, c) plane: for small planes, where a workgroup per plane would idle.
@compute @workgroup_size(WORKGROUP_SIZE)
fn pool_global_average_forward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let plane = flat_index(id, groups);
  if (plane >= params.planes) { return; }
  var sum = 0.0;
  for (var i = 0u; i < in_plane(); i++) { sum += x[plane * in_plane() + i]; }
  y[plane] = sum / f32(in_plane());
}

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

// One workgroup per (n, c) plane (a 2-D grid of workgroups past 65535 planes): strided partial sums, then a tree.
// WORKGROUP_SIZE must be a power of two.
@compute @workgroup_size(WORKGROUP_SIZE)
fn pool_global_average_forward_reduce(
  @builtin(local_invocation_index) lane: u32,
  @builtin(workgroup_id) group: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
) {
  let plane = group.x + group.y * groups.x;
  if (plane >= params.planes) { return; } // uniform across the workgroup
  var sum = 0.0;
  for (var i = lane; i < in_plane(); i += WORKGROUP_SIZE) { sum += x[plane * in_plane() + i]; }
  partial[lane] = sum;
  for (var stride = WORKGROUP_SIZE / 2u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (lane < stride) { partial[lane] += partial[lane + stride]; }
  }
  if (lane == 0u) { y[plane] = partial[0] / f32(in_plane()); }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn pool_global_average_backward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.planes * in_plane()) { return; }
  store_grad(i, grad_y[i / in_plane()] / f32(in_plane()));
}
