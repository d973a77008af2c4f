import { allocate, readFloats, upload } from '../gpu/buffers.ts';
import { CommandBatch, gridFor } from '../gpu/commands.ts';
import { GradlensError } from '../gpu/errors.ts';
import { sizeOf } from '../graph/ir.ts';
import type { Model } from '../graph/model.ts';
import { WORKGROUP_SIZE } from '../kernels/wgsl.ts';

/**
 * Points made on the GPU by choosing features of inputs (shaders/perturb.wgsl): point p is input source[p] with the features
 * whose rank in row order[p] is below limit[p] replaced (or, with `insert`, the only ones kept).
 */
export interface PerturbationSet {
  inputs: Float32Array;
  /** Same layout as `inputs`: what a chosen feature becomes. */
  replacements: Float32Array;
  /** Per element of one input, its feature. */
  feature: Uint32Array;
  features: number;
  /** rows × features: each feature's place in that row's order. */
  ranks: Uint32Array;
  source: Uint32Array;
  order: Uint32Array;
  limit: Uint32Array;
  insert?: boolean;
}

const MODULE = 'perturb';

/** Logits of every point (points × classes), in chunks of batched forward passes; only the logits come back. */
export async function perturbedLogits(model: Model, set: PerturbationSet, chunk = 128): Promise<Float32Array> {
  const { gpu } = model;
  const { device } = gpu;
  const size = sizeOf(model.graph.inputShape);
  const classes = sizeOf(model.outputShape);
  const total = set.source.length;
  if (set.order.length !== total || set.limit.length !== total) throw new GradlensError('BAD_PARAMS', 'source, order and limit need one value per point');
  if (set.inputs.length % size !== 0 || set.replacements.length !== set.inputs.length) throw new GradlensError('BAD_INPUT', `inputs and replacements must be whole inputs of ${size} values`);
  if (set.feature.length !== size) throw new GradlensError('BAD_PARAMS', `feature map has ${set.feature.length} entries for inputs of ${size}`);
  if (total === 0) return new Float32Array(0);
  const kernel = await gpu.kernels.kernel(MODULE, 'perturb_points', { WORKGROUP_SIZE });
  const batch = Math.min(chunk, total);
  const plan = await model.cachedPlan({ batch, seed: 'none' });
  const owned = [
    await upload(device, 'metric inputs', set.inputs),
    await upload(device, 'metric replacements', set.replacements),
    await upload(device, 'metric features', set.feature),
    await upload(device, 'metric ranks', set.ranks),
    await upload(device, 'metric sources', set.source),
    await upload(device, 'metric orders', set.order),
    await upload(device, 'metric limits', set.limit),
    ...(await allocate(device, [{ label: 'metric logits', size: total * classes * 4 }])),
  ];
  const [inputs, replacements, feature, ranks, source, order, limit, logits] = owned as GPUBuffer[];
  const uniforms: GPUBuffer[] = [];
  try {
    for (let start = 0; start < total; start += batch) {
      const count = Math.min(batch, total - start);
      const params = { size, features: set.features, chunk_start: start, chunk_count: count, insert: Number(set.insert ?? false) };
      const bound = kernel.bind(device, { params, inputs: inputs!, replacements: replacements!, feature: feature!, ranks: ranks!, source: source!, order: order!, limit: limit!, points: plan.buffers.input });
      uniforms.push(...bound.uniforms);
      await new CommandBatch(device, `metric points ${start}`)
        .dispatch(bound, gridFor(count * size, WORKGROUP_SIZE), 0)
        .add(...plan.dispatches)
        .copy(plan.buffers.output, logits!, count * classes * 4, 0, start * classes * 4)
        .submit();
    }
    return await readFloats(device, logits!, total * classes);
  } finally {
    owned.forEach((buffer) => buffer.destroy());
    uniforms.forEach((buffer) => buffer.destroy());
  }
}
