// Attribution → heat-map pixels, on the GPU where the attribution already is:
//   render_reduce     channels → one value per pixel (sum, max-abs, L1, L2), then the sign mode;
//   render_histogram  } four radix-select passes (8 bits each) that find two order statistics of |map| exactly,
//   render_select     } the percentile's neighbours, and from them the colour range (numpy's linear percentile);
//   render_colorize   value → t ∈ [0, 1] → colormap entry ⌊256·t⌋, alpha-blended over the image when overlaid.
// |x| of a float orders as its bits read as u32, so the select runs on integers; its atomics are integer counts,
// so the result does not depend on the order of the additions.
// uses: grid (WORKGROUP_SIZE, flat_index: shaders/lib/grid.wgsl)

struct Params {
  pixels: u32,         // values in the reduced map: H·W
  channels: u32,
  pixel_stride: u32,   // attribution elements between neighbouring pixels: 1 for CHW, C for HWC
  channel_stride: u32, // between channels of one pixel: H·W for CHW, 1 for HWC
  reduction: u32,      // one of REDUCTION_*
  sign: u32,           // 0 abs, 1 positive, 2 negative (magnitude of the negative part), 3 signed
  fraction: f32,       // numpy's linear percentile: weight of the upper order statistic
  signed_range: u32,   // 1: the normalised range is [−s, s], else [0, s]
  out_pixels: u32,     // pixels colourised: H·W, or the overlay's size when the map was resized to it
  overlay: u32,        // 1: blend over the image already in `pixels`
  opacity: f32,        // the heat map's alpha over the image
}

// The select's state and its result; the host writes the initial ranks (and the range itself when not normalising).
struct Selection {
  prefix: array<u32, 2>, // high bits of the two order statistics found so far
  rank: array<u32, 2>,   // rank of each among the values that share its prefix
  shift: u32,            // the digit the next pass counts: 24, 16, 8, 0
  non_finite: atomic<u32>,
  lo: f32,               // the values at the colormap's two ends
  hi: f32,
}

const BINS: u32 = 256u;

// Enum codes of params.reduction and params.sign, read by name in src/render/kernels.ts.
const REDUCTION_SUM: u32 = 0u;
const REDUCTION_MAX_ABS: u32 = 1u; // the signed value of the largest |a|
const REDUCTION_L1: u32 = 2u;
const REDUCTION_L2: u32 = 3u;
const SIGN_ABS: u32 = 0u;
const SIGN_POSITIVE: u32 = 1u;
const SIGN_NEGATIVE: u32 = 2u;
const SIGN_SIGNED: u32 = 3u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> attribution: array<f32>;
@group(0) @binding(2) var<storage, read_write> reduced: array<f32>;
@group(0) @binding(3) var<storage, read_write> histogram: array<atomic<u32>>; // 2 × BINS
@group(0) @binding(4) var<storage, read_write> selection: Selection;
@group(0) @binding(5) var<storage, read> lut: array<u32>;                     // BINS packed RGBA8
@group(0) @binding(6) var<storage, read_write> pixels: array<u32>;            // packed RGBA8, R in the low byte

var<workgroup> local_counts: array<atomic<u32>, 512>; // 2 × BINS

// By the bits: a shader may assume NaN and ∞ never occur, so a float comparison could be folded away.
fn is_finite(a: f32) -> bool {
  return (bitcast<u32>(a) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn render_reduce(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let p = flat_index(id, groups);
  if (p >= params.pixels) { return; }
  var sum = 0.0;
  var l1 = 0.0;
  var squares = 0.0;
  var largest = 0.0; // ties keep the first channel
  var bad = 0u;
  for (var c = 0u; c < params.channels; c++) {
    let a = attribution[p * params.pixel_stride + c * params.channel_stride];
    bad += select(1u, 0u, is_finite(a));
    sum += a;
    l1 += abs(a);
    squares += a * a;
    if (abs(a) > abs(largest)) { largest = a; }
  }
  if (bad > 0u) { atomicAdd(&selection.non_finite, bad); }
  var v = sum;
  switch params.reduction {
    case REDUCTION_MAX_ABS: { v = largest; }
    case REDUCTION_L1: { v = l1; }
    case REDUCTION_L2: { v = sqrt(squares); }
    case REDUCTION_SUM, default: {}
  }
  switch params.sign {
    case SIGN_ABS: { v = abs(v); }
    case SIGN_POSITIVE: { v = max(v, 0.0); }
    case SIGN_NEGATIVE: { v = max(-v, 0.0); }
    case SIGN_SIGNED, default: {}
  }
  reduced[p] = v;
}

// One radix digit: counts, for each of the two order statistics, the values that share its prefix, by their digit.
@compute @workgroup_size(WORKGROUP_SIZE)
fn render_histogram(
  @builtin(local_invocation_index) local: u32,
  @builtin(global_invocation_id) id: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
) {
  for (var b = local; b < 2u * BINS; b += WORKGROUP_SIZE) { atomicStore(&local_counts[b], 0u); }
  workgroupBarrier();
  let shift = selection.shift;
  let high = select(0xffffffffu << (shift + 8u), 0u, shift >= 24u); // the digits already chosen
  let prefix = vec2<u32>(selection.prefix[0], selection.prefix[1]);
  for (var i = id.x; i < params.pixels; i += groups.x * WORKGROUP_SIZE) {
    let bits = bitcast<u32>(abs(reduced[i]));
    let digit = (bits >> shift) & 0xffu;
    if ((bits & high) == prefix.x) { atomicAdd(&local_counts[digit], 1u); }
    if ((bits & high) == prefix.y) { atomicAdd(&local_counts[BINS + digit], 1u); }
  }
  workgroupBarrier();
  for (var b = local; b < 2u * BINS; b += WORKGROUP_SIZE) {
    let count = atomicLoad(&local_counts[b]);
    if (count > 0u) { atomicAdd(&histogram[b], count); }
  }
}

// Picks each statistic's digit from the counts, clears them for the next pass, and after the last digit turns
// the two statistics into the range: s = a + fraction·(b − a).
@compute @workgroup_size(1)
fn render_select() {
  let shift = selection.shift;
  for (var lane = 0u; lane < 2u; lane++) {
    var below = 0u;
    var digit = 0u;
    loop {
      let count = atomicLoad(&histogram[lane * BINS + digit]);
      if (below + count > selection.rank[lane] || digit == BINS - 1u) { break; }
      below += count;
      digit += 1u;
    }
    selection.prefix[lane] |= digit << shift;
    selection.rank[lane] -= below;
  }
  for (var b = 0u; b < 2u * BINS; b++) { atomicStore(&histogram[b], 0u); }
  if (shift > 0u) {
    selection.shift = shift - 8u;
    return;
  }
  let a = bitcast<f32>(selection.prefix[0]);
  let b = bitcast<f32>(selection.prefix[1]);
  let s = a + params.fraction * (b - a);
  selection.lo = select(0.0, -s, params.signed_range == 1u);
  selection.hi = s;
}

// t = (v − lo)/(hi − lo) clamped to [0, 1] (a zero range gives the colormap's start, or its middle when signed);
// over an image, "heat over image" with straight alpha: A = α + a_b(1 − α), C = (α·C_h + a_b(1 − α)·C_b)/A.
@compute @workgroup_size(WORKGROUP_SIZE)
fn render_colorize(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let p = flat_index(id, groups);
  if (p >= params.out_pixels) { return; }
  let lo = selection.lo;
  let hi = selection.hi;
  var t = select(0.0, 0.5, params.signed_range == 1u);
  if (hi > lo) { t = clamp((reduced[p] - lo) / (hi - lo), 0.0, 1.0); }
  let heat = unpack4x8unorm(lut[min(u32(t * f32(BINS)), BINS - 1u)]);
  var colour = vec4<f32>(heat.rgb, 1.0);
  if (params.overlay == 1u) {
    let base = unpack4x8unorm(pixels[p]);
    let alpha = params.opacity;
    let coverage = alpha + base.a * (1.0 - alpha);
    let rgb = (alpha * heat.rgb + base.a * (1.0 - alpha) * base.rgb) / max(coverage, 1e-6);
    colour = vec4<f32>(rgb, coverage);
  }
  pixels[p] = pack4x8unorm(colour);
}
