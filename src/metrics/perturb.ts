import { WORKGROUP_SIZE } from '../kernels/wgsl.ts';
import { readFloats } from '../gpu/buffers.ts';
import { gridFor } from '../gpu/commands.ts';
import { GradlensError } from '../gpu/errors.ts';
import { sizeOf } from '../graph/ir.ts';
import { modelOf, type AnyModel } from '../lens.ts';
import { runJob, type Job } from '../attribution/runner.ts';

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

/** Logits of every point (points × classes): the points made on the GPU, forward passes on the runner, only the logits back. */
export async function perturbedLogits(handle: AnyModel, set: PerturbationSet, chunkSize?: number): Promise<Float32Array> {
  const model = await modelOf(handle);
  const { gpu } = model;
  const { device } = gpu;
  const size = sizeOf(model.graph.inputShape);
  const classes = sizeOf(model.outputShape);
  const total = set.source.length;
  if (set.order.length !== total || set.limit.length !== total)
    throw new GradlensError('BAD_PARAMS', 'source, order and limit need one value per point');
  if (set.inputs.length % size !== 0 || set.replacements.length !== set.inputs.length)
    throw new GradlensError('BAD_INPUT', `inputs and replacements must be whole inputs of ${size} values`);
  if (set.feature.length !== size) throw new GradlensError('BAD_PARAMS', `feature map has ${set.feature.length} entries for inputs of ${size}`);
  if (total === 0) return new Float32Array(0);
  const kernel = await gpu.kernels.kernel(MODULE, 'perturb_points', { WORKGROUP_SIZE });
  const job: Job<Float32Array> = {
    label: 'metric points',
    total,
    plans: [{ objective: 'none' }],
    async prepare(scope, _chunkSize, [plan]) {
      const data = {
        inputs: set.inputs,
        replacements: set.replacements,
        feature: set.feature,
        ranks: set.ranks,
        source: set.source,
        order: set.order,
        limit: set.limit,
      };
      const buffers: Record<string, GPUBuffer> = {};
      for (const [name, values] of Object.entries(data)) buffers[name] = await scope.upload(`metric ${name}`, values);
      const [logits] = (await scope.allocate([{ label: 'metric logits', size: total * classes * 4 }])) as [GPUBuffer];
      // Bound once; a later chunk rewrites its parameters (the chunks before were submitted with theirs).
      const rebind = kernel.rebinding(device, { ...buffers, points: plan!.buffers.input });
      return {
        points: ({ start, count }) => {
          const params = { size, features: set.features, chunk_start: start, chunk_count: count, insert: Number(set.insert ?? false) };
          return [
            {
              bound: rebind({ params }),
              workgroups: gridFor(count * size, WORKGROUP_SIZE),
              iterations: 0,
            },
          ];
        },
        reduce: ({ start, count }) => [
          { source: plan!.buffers.output, target: logits, size: count * classes * 4, targetOffset: start * classes * 4 },
        ],
        finish: () => readFloats(device, logits, total * classes),
      };
    },
  };
  return (await runJob(model, job, { chunkSize })).result;
}
