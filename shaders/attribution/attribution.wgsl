// The attribution engine's own kernels: make the points of a chunk, fold their gradients into per-input sums, and
// combine the sums into attributions. A point p of the virtual batch is (input i, noise sample s, path step k):
//   point = b + α (x̃ − b),   x̃ = x + σ_i·ε(seed, i, s, e),   b = baseline of i, or a random member of a set.
// Noise and random choices come from Philox4x32-10 (Salmon et al. 2011) keyed by the seed and counted by
// (element, sample, the input's stream id, stream), so the reducer regenerates x̃ and b instead of storing them.
// uses: grid (WORKGROUP_SIZE, flat_index: shaders/lib/grid.wgsl)

struct Params {
  size: u32,          // elements per input
  chunk_start: u32,   // global index of the chunk's first point
  chunk_count: u32,   // valid points in this chunk
  samples: u32,       // S
  steps: u32,         // K
  seed_lo: u32,
  seed_hi: u32,
  set_count: u32,
  per_sample: u32,    // 1: sums kept per (i, s) (a later combine squares them), 0: summed over s directly
  combine: u32,       // finalize: 0 mean, 1 mean of squares, 2 variance
  inputs: u32,        // n
}

// What a run's points and fold are, as override constants: the adapter's compiler drops the code of every other
// case. Mesa's llvmpipe runs both sides of a branch on a uniform value (under a lane mask), so with these as uniforms
// every point paid for the noise and random draws and every fold for every multiplier.
const NOISE_NONE: u32 = 0u;
const NOISE_DRAWN: u32 = 1u;    // σ_i·ε drawn from Philox (σ may be 0 for some inputs)
const NOISE_GIVEN: u32 = 2u;    // ε·σ read from `noise` (samples × inputs × size)
const MULTIPLY_NONE: u32 = 0u;
const MULTIPLY_INPUT: u32 = 1u;               // by x̃
const MULTIPLY_INPUT_MINUS_BASELINE: u32 = 2u; // by x̃ − b
const MULTIPLY_ACTIVATION: u32 = 3u;          // by the layer's value at the point (a layer's gradient × activation)
const MULTIPLY_POSITIVE: u32 = 4u;            // where that value is positive (the gradient before a Relu, from its
                                              // output's: src/graph/linear-prefix.ts)
override NOISE: u32 = NOISE_NONE;
override BASELINE_SET: bool = false; // b is a random member of a set per (i, s), not the input's own
override RANDOM_ALPHA: bool = false; // α ~ U(0, 1) per (i, s) (expected gradients), weights 1
override MULTIPLY: u32 = MULTIPLY_NONE;
override ABSOLUTE: bool = false;     // |w·g·m| per point (a per-sample attribution when steps = 1), Captum's Saliency(abs=True)
override CONDUCTANCE: bool = false;  // Σ_k g_k ⊙ (y_{k+1} − y_k) over a slot's points (Captum LayerConductance)

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> inputs: array<f32>;      // n × size
@group(0) @binding(2) var<storage, read> baselines: array<f32>;   // n × size, or set_count × size
@group(0) @binding(3) var<storage, read> stdev: array<f32>;       // σ per input
@group(0) @binding(4) var<storage, read> path: array<vec2<f32>>;  // (α_k, w_k)
@group(0) @binding(5) var<storage, read_write> points: array<f32>;
@group(0) @binding(6) var<storage, read> gradients: array<f32>;
@group(0) @binding(7) var<storage, read_write> sums: array<f32>;  // first and second moments, see attribution_accumulate
@group(0) @binding(8) var<storage, read> noise: array<f32>;       // given noise, to compare with another library's draws
@group(0) @binding(9) var<storage, read> streams: array<u32>;     // each input's stream id: its draws, whatever its batch
@group(0) @binding(10) var<storage, read> activations: array<f32>;    // the layer's value at each point of the chunk
@group(0) @binding(11) var<storage, read_write> carry: array<f32>;    // conductance: per slot, the last point's g, then y

// uses: philox (philox, unit, box_muller: shaders/lib/philox.wgsl)

const STREAM_NOISE: u32 = 0u;
const STREAM_CHOICE: u32 = 1u;

// Standard normal for (element, sample, input) by Box–Muller on two Philox words.
fn normal(e: u32, s: u32, i: u32) -> f32 {
  let r = philox(vec4<u32>(e, s, streams[i], STREAM_NOISE), vec2<u32>(params.seed_lo, params.seed_hi));
  return box_muller(r.x, r.y);
}

// One draw per (input, sample): which baseline of the set, and α.
fn choice(s: u32, i: u32) -> vec4<u32> {
  return philox(vec4<u32>(0u, s, streams[i], STREAM_CHOICE), vec2<u32>(params.seed_lo, params.seed_hi));
}

fn noisy_input(i: u32, s: u32, e: u32) -> f32 {
  let x = inputs[i * params.size + e];
  if (NOISE == NOISE_GIVEN) { return x + noise[(s * params.inputs + i) * params.size + e]; }
  if (NOISE == NOISE_NONE) { return x; }
  let sigma = stdev[i];
  return select(x, x + sigma * normal(e, s, i), sigma > 0.0);
}

fn baseline(i: u32, s: u32, e: u32) -> f32 {
  if (BASELINE_SET) {
    return baselines[(choice(s, i).x % params.set_count) * params.size + e];
  }
  return baselines[i * params.size + e];
}

fn alpha(i: u32, s: u32, k: u32) -> f32 {
  if (RANDOM_ALPHA) { return unit(choice(s, i).y); }
  return path[k].x;
}

fn weight(k: u32) -> f32 {
  if (RANDOM_ALPHA) { return 1.0; }
  return path[k].y;
}

// Invocation → (point of the chunk, element); a 2-D grid when the chunk is large.
fn chunk_index(id: vec3<u32>, groups: vec3<u32>) -> u32 {
  return id.x + id.y * groups.x * WORKGROUP_SIZE;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn attribution_points(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let flat = chunk_index(id, groups);
  if (flat >= params.chunk_count * params.size) { return; }
  let local = flat / params.size;
  let e = flat % params.size;
  let p = params.chunk_start + local;
  let k = p % params.steps;
  let s = (p / params.steps) % params.samples;
  let i = p / (params.steps * params.samples);
  let b = baseline(i, s, e);
  points[flat] = b + alpha(i, s, k) * (noisy_input(i, s, e) - b);
}

// sums holds, per (input, element) — or per (input, sample, element) when per_sample — the weighted gradient
// w_k·g·m, where m is 1, x̃ or x̃ − b; with per_sample = 0 and combine > 0 the squares follow after n·size values.
@compute @workgroup_size(WORKGROUP_SIZE)
fn attribution_accumulate(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  // One invocation per (input-or-sample slot, element): it walks the chunk's points of its slot in order, so the
  // sum is deterministic and needs no atomics.
  let flat = chunk_index(id, groups);
  let per_slot = params.steps * select(params.samples, 1u, params.per_sample == 1u);
  let slots = params.inputs * select(1u, params.samples, params.per_sample == 1u);
  if (flat >= slots * params.size) { return; }
  let slot = flat / params.size;
  let e = flat % params.size;
  let first = slot * per_slot;
  let last = first + per_slot;
  let begin = max(first, params.chunk_start);
  let end = min(last, params.chunk_start + params.chunk_count);
  var total = 0.0;
  var squares = 0.0;
  let carried = slots * params.size;
  // A slot's points share their input i; k and s step along with p (integer division is slow on CPU adapters).
  let i = begin / (params.steps * params.samples);
  var k = begin % params.steps;
  var s = (begin / params.steps) % params.samples;
  var at = (begin - params.chunk_start) * params.size + e;
  for (var p = begin; p < end; p++) {
    if (CONDUCTANCE) {
      // The step from the previous point (carried across chunks) to this one, at the previous point's gradient.
      if (k > 0u) { total += carry[flat] * (activations[at] - carry[carried + flat]); }
      carry[flat] = gradients[at];
      carry[carried + flat] = activations[at];
    } else {
      var value = weight(k) * gradients[at];
      if (MULTIPLY == MULTIPLY_INPUT) { value *= noisy_input(i, s, e); }
      if (MULTIPLY == MULTIPLY_INPUT_MINUS_BASELINE) { value *= noisy_input(i, s, e) - baseline(i, s, e); }
      if (MULTIPLY == MULTIPLY_ACTIVATION) { value *= activations[at]; }
      if (MULTIPLY == MULTIPLY_POSITIVE) { value = select(0.0, value, activations[at] > 0.0); }
      if (ABSOLUTE) { value = abs(value); }
      total += value;
      squares += value * value;
    }
    at += params.size;
    k += 1u;
    if (k == params.steps) {
      k = 0u;
      s += 1u;
    }
  }
  if (begin < end) {
    sums[flat] += total;
    if (params.per_sample == 0u && params.combine != 0u) { sums[slots * params.size + flat] += squares; }
  }
}

// attribution (in points, reused as the output) from the sums: over the S samples, the mean, the mean of squares,
// or the (population) variance, as SmoothGrad, SmoothGrad² and VarGrad define them.
@compute @workgroup_size(WORKGROUP_SIZE)
fn attribution_finalize(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let flat = chunk_index(id, groups);
  if (flat >= params.inputs * params.size) { return; }
  let i = flat / params.size;
  let e = flat % params.size;
  let S = f32(params.samples);
  var mean = 0.0;
  var square = 0.0;
  if (params.per_sample == 1u) {
    for (var s = 0u; s < params.samples; s++) {
      let a = sums[(i * params.samples + s) * params.size + e];
      mean += a / S;
      square += a * a / S;
    }
  } else {
    mean = sums[flat] / S;
    square = select(0.0, sums[params.inputs * params.size + flat] / S, params.combine != 0u);
  }
  var result = mean;
  if (params.combine == 1u) { result = square; }
  if (params.combine == 2u) { result = max(square - mean * mean, 0.0); }
  points[flat] = result;
}
