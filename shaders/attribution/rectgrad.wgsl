// RectGrad's ReLU backward (Kim et al. 2019, "Why are Saliency Maps Noisy? Cause of and Solution to Noisy Saliency
// Maps"): the upstream gradient g passes only where the importance a ⊙ g (the ReLU's output times g) exceeds τ, the
// q-th percentile of that layer's importances for the sample; elsewhere the gradient is zero. No forward mask besides:
// a dead unit (a = 0) passes when τ < 0, as in the authors' code.
// τ is found exactly by counting: a radix select (8 bits a pass) over order-preserving u32 keys, one workgroup per
// sample, then linear interpolation between the two order statistics around rank h = (n − 1)·q/100.
// uses: grid (WORKGROUP_SIZE, flat_index: shaders/lib/grid.wgsl)

struct Params {
  count: u32,      // elements of the layer, whole batch
  per_sample: u32, // n: elements per sample
  rank: u32,       // ⌊h⌋
  fraction: f32,   // h − ⌊h⌋: τ = s[⌊h⌋] + fraction·(s[⌊h⌋ + 1] − s[⌊h⌋]), s the sample's sorted importances
  accumulate: u32, // 1 adds into grad_x (a tensor read by several nodes), 0 overwrites
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>; // the ReLU's input or output: a = max(x, 0) either way
@group(0) @binding(2) var<storage, read> grad_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> threshold: array<f32>; // τ per sample
@group(0) @binding(4) var<storage, read_write> grad_x: array<f32>;

const BINS: u32 = 256u;

var<workgroup> histogram: array<atomic<u32>, 256>;
var<workgroup> prefix: u32;    // key bits of s[⌊h⌋] found so far
var<workgroup> remaining: u32; // rank of s[⌊h⌋] among the keys that share the prefix
var<workgroup> at_most: atomic<u32>;   // keys ≤ key(s[⌊h⌋])
var<workgroup> next_key: atomic<u32>;  // smallest key above it

// Both kernels compute it by the same expression, so the mask compares bit-identical values with τ.
fn importance(i: u32) -> f32 {
  return max(x[i], 0.0) * grad_y[i];
}

// Order-preserving f32 → u32: negatives get every bit flipped, the rest the sign bit set (−0 sorts just below +0).
fn order_key(v: f32) -> u32 {
  let bits = bitcast<u32>(v);
  return select(bits | 0x80000000u, ~bits, (bits & 0x80000000u) != 0u);
}

fn from_key(key: u32) -> f32 {
  return bitcast<f32>(select(~key, key & 0x7fffffffu, (key & 0x80000000u) != 0u));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn rectgrad_threshold(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let sample = group.x + group.y * groups.x;
  if (sample >= params.count / params.per_sample) { return; }
  let first = sample * params.per_sample;
  if (t == 0u) {
    prefix = 0u;
    remaining = params.rank;
    atomicStore(&at_most, 0u);
    atomicStore(&next_key, 0xffffffffu);
  }
  // Four passes, most significant digit first: count the keys that share the prefix by their next 8 bits, then
  // descend into the bin that holds the wanted rank.
  for (var level = 0u; level < 4u; level++) {
    let shift = 24u - 8u * level;
    let high = ~(0xffffffffu >> (8u * level)); // the bits above this digit
    for (var b = t; b < BINS; b += WORKGROUP_SIZE) { atomicStore(&histogram[b], 0u); }
    workgroupBarrier();
    let wanted = prefix;
    for (var i = t; i < params.per_sample; i += WORKGROUP_SIZE) {
      let key = order_key(importance(first + i));
      if ((key & high) == wanted) { atomicAdd(&histogram[(key >> shift) & 0xffu], 1u); }
    }
    workgroupBarrier();
    if (t == 0u) {
      var left = remaining;
      var digit = 0u;
      loop {
        let n = atomicLoad(&histogram[digit]);
        if (left < n || digit == BINS - 1u) { break; }
        left -= n;
        digit++;
      }
      prefix = wanted | (digit << shift);
      remaining = left;
    }
    workgroupBarrier();
  }
  // One more pass for s[⌊h⌋ + 1]: equal to s[⌊h⌋] when more than ⌊h⌋ + 1 keys are ≤ it, else the next key up.
  let found = prefix;
  if (params.fraction > 0.0) {
    for (var i = t; i < params.per_sample; i += WORKGROUP_SIZE) {
      let key = order_key(importance(first + i));
      if (key <= found) { atomicAdd(&at_most, 1u); } else { atomicMin(&next_key, key); }
    }
  }
  workgroupBarrier();
  if (t == 0u) {
    let low = from_key(found);
    var tau = low;
    if (params.fraction > 0.0) {
      let high = select(from_key(atomicLoad(&next_key)), low, atomicLoad(&at_most) > params.rank + 1u);
      tau = low + params.fraction * (high - low);
    }
    threshold[sample] = tau;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn rectgrad_backward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (i >= params.count) { return; }
  let kept = select(0.0, grad_y[i], importance(i) > threshold[i / params.per_sample]);
  grad_x[i] = select(kept, grad_x[i] + kept, params.accumulate == 1u);
}
