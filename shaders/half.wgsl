// A weight buffer's copy as `Weight` (f16 in this module's `+f16` variant, the only one used): made before the kernels
// that read weights as f16 (src/kernels/half.ts), once a run, so weights changed between runs (NoiseGrad) are copied
// again. A weight beyond f16's range becomes ±65504, not infinite; the rounding is the adapter's (WGSL lets it round
// either way), so tests compare against the copy read back.
// uses: grid (WORKGROUP_SIZE, flat_index: shaders/lib/grid.wgsl)
// uses: weights (Weight: f32, or f16 in the +f16 variant)

@group(0) @binding(0) var<storage, read> weights: array<f32>;
@group(0) @binding(1) var<storage, read_write> half_copy: array<Weight>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn half_weights(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= arrayLength(&weights)) { return; }
  half_copy[i] = Weight(clamp(weights[i], -65504.0, 65504.0));
}
