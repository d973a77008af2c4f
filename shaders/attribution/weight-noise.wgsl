// NoiseGrad's perturbed weights (Bykov et al. 2022, "NoiseGrad — Enhancing Explanations by Introducing Stochasticity
// to Model Weights"): w' = w · η elementwise, η ~ N(1, σ²), written into a copy so the model's own weights never change.
// η = 1 + σ·z, z standard normal by Box–Muller on Philox4x32-10 (the generator of attribution.wgsl) counted by
// (element, tensor, model sample, stream 2) under the seed's key: one seed gives the same perturbed models in every
// run, on every device, and stream 2 never meets the engine's input-noise (0) and choice (1) streams.
// uses: grid (WORKGROUP_SIZE, flat_index: shaders/lib/grid.wgsl)

struct Params {
  count: u32,  // elements of this weight tensor
  tensor: u32, // the tensor's position among the model's weights
  sample: u32, // which perturbed model (0 … M − 1)
  seed_lo: u32,
  seed_hi: u32,
  stdev: f32,  // σ
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> weights: array<f32>;
@group(0) @binding(2) var<storage, read_write> perturbed: array<f32>;

const STREAM_WEIGHTS: u32 = 2u;

// uses: philox (philox, box_muller: shaders/lib/philox.wgsl)

@compute @workgroup_size(WORKGROUP_SIZE)
fn weight_noise(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let e = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (e >= params.count) { return; }
  let r = philox(vec4<u32>(e, params.tensor, params.sample, STREAM_WEIGHTS), vec2<u32>(params.seed_lo, params.seed_hi));
  let z = box_muller(r.x, r.y);
  perturbed[e] = weights[e] * (1.0 + params.stdev * z);
}
