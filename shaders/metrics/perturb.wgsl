// Perturbed inputs for the faithfulness metrics, made where the model reads them. Point p of a chunk takes input
// source[p] and, for each element, the feature it belongs to (a pixel across channels, a patch, or the element
// itself); the feature is replaced when its rank in row order[p] is below limit[p] (deletion), or kept only then
// (insertion). Deletion and insertion curves, pixel flipping and random-subset metrics are all this one rule.
// uses: grid (WORKGROUP_SIZE, flat_index: shaders/lib/grid.wgsl)

struct Params {
  size: u32,       // elements per input
  features: u32,   // features per input
  chunk_start: u32,
  chunk_count: u32,
  insert: u32,     // 1: features below the limit come from the input, the rest from the replacement
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> inputs: array<f32>;       // inputs × size
@group(0) @binding(2) var<storage, read> replacements: array<f32>; // inputs × size: zero, mean, blur or noise
@group(0) @binding(3) var<storage, read> feature: array<u32>;      // size: element → feature
@group(0) @binding(4) var<storage, read> ranks: array<u32>;        // rows × features: a feature's place in the order
@group(0) @binding(5) var<storage, read> source: array<u32>;       // per point: its input
@group(0) @binding(6) var<storage, read> order: array<u32>;        // per point: its row of ranks
@group(0) @binding(7) var<storage, read> limit: array<u32>;        // per point: how many features are chosen
@group(0) @binding(8) var<storage, read_write> points: array<f32>; // chunk × size

@compute @workgroup_size(WORKGROUP_SIZE)
fn perturb_points(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let index = id.x + id.y * groups.x * WORKGROUP_SIZE;
  if (index >= params.chunk_count * params.size) { return; }
  let p = params.chunk_start + index / params.size;
  let e = index % params.size;
  let i = source[p];
  let chosen = ranks[order[p] * params.features + feature[e]] < limit[p];
  let original = inputs[i * params.size + e];
  let replaced = replacements[i * params.size + e];
  points[index] = select(original, replaced, chosen != (params.insert == 1u));
}
