// BatchNormalization in inference form, unfolded: y = x·scale[c] + shift[c] on channels at axis 1 of any rank ≥ 2,
// with scale = γ/√(σ² + ε) and shift = β − μ·scale precomputed on the host (batchNormToAffine).
// uses: grid (WORKGROUP_SIZE, flat_index: shaders/lib/grid.wgsl)

struct Params {
  count: u32,
  channels: u32,
  spatial: u32,    // elements per (batch, channel): the product of the axes after 1
  accumulate: u32, // backward: 1 adds into grad_x (a tensor read by several nodes), 0 overwrites
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> scale: array<f32>;
@group(0) @binding(3) var<storage, read> shift: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read> grad_y: array<f32>;
@group(0) @binding(6) var<storage, read_write> grad_x: array<f32>;

fn channel_of(i: u32) -> u32 {
  return (i / params.spatial) % params.channels;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn channel_affine_forward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.count) { return; }
  let c = channel_of(i);
  y[i] = x[i] * scale[c] + shift[c];
}

// dx = dy·scale[c]: the affine map's Jacobian is diagonal.
@compute @workgroup_size(WORKGROUP_SIZE)
fn channel_affine_backward(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = flat_index(id, groups);
  if (i >= params.count) { return; }
  let g = grad_y[i] * scale[channel_of(i)];
  grad_x[i] = select(g, grad_x[i] + g, params.accumulate == 1u);
}
