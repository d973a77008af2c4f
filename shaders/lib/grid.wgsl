// The one-invocation-per-element grid, shared by the kernels that say `// uses: grid`. WORKGROUP_SIZE is their
// workgroup size (also the length of their workgroup reductions); 128 invocations fit WebGPU compatibility mode, and
// src/kernels/wgsl.ts reads this default by reflection, so TypeScript sizes its grids from the same number.
override WORKGROUP_SIZE: u32 = 128u;

// The element of an invocation in a 2-D grid of workgroups (x up to 65535 workgroups, then rows of them: gridFor),
// so any tensor size fits.
fn flat_index(id: vec3<u32>, groups: vec3<u32>) -> u32 {
  return id.x + id.y * groups.x * WORKGROUP_SIZE;
}
