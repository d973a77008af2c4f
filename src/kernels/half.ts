import { gridFor, type Dispatch } from '../gpu/commands.ts';
import type { GpuContext } from '../gpu/device.ts';
import { WORKGROUP_SIZE } from './wgsl.ts';

/** A weight buffer's f16 copy and the dispatch that fills it (shaders/half.wgsl). */
export interface HalfWeights {
  buffer: GPUBuffer;
  /**
   * The copy, as a prologue (Dispatch.prologue) of each kernel reading it: once a run, before the first chunk, so
   * weights changed between runs are copied again. One object per weights, so a batch records it once.
   */
  fill: Dispatch;
}

const halfCopies = new WeakMap<GPUBuffer, Promise<HalfWeights>>();

/**
 * The f16 copy of a weight buffer, made once and freed with the weights (releaseHalfWeights):
 * for kernels whose `+f16` variant reads weights as f16 (AdapterOptions.precision 'f16').
 */
export function halfWeights(context: GpuContext, weights: GPUBuffer): Promise<HalfWeights> {
  let copy = halfCopies.get(weights);
  if (!copy) {
    copy = makeHalfWeights(context, weights);
    halfCopies.set(weights, copy);
    copy.catch(() => halfCopies.delete(weights));
  }
  return copy;
}

async function makeHalfWeights(context: GpuContext, weights: GPUBuffer): Promise<HalfWeights> {
  const kernel = await context.kernels.kernel(context.kernels.halfVariant('half'), 'half_weights', { WORKGROUP_SIZE });
  // Half the bytes, rounded up to a multiple of 4 as every binding's; an odd count's last half is never read.
  const count = weights.size / 4;
  const size = Math.max(4, Math.ceil(count / 2) * 4);
  // COPY_SRC: tests read the copy back.
  const buffer = context.device.createBuffer({ label: `${weights.label} (f16)`, size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const bound = kernel.bind(context.device, { weights, half_copy: buffer });
  const max = context.device.limits.maxComputeWorkgroupsPerDimension;
  return { buffer, fill: { bound, workgroups: gridFor(count, WORKGROUP_SIZE, max), iterations: 0 } };
}

/** Frees the f16 copy made of a weight buffer, after `derived` frees what was made of the copy (Model.destroy). */
export async function releaseHalfWeights(weights: GPUBuffer, derived: (copy: GPUBuffer) => void = () => undefined): Promise<void> {
  const copy = await halfCopies.get(weights)?.catch(() => undefined);
  halfCopies.delete(weights);
  if (!copy) return;
  derived(copy.buffer);
  copy.buffer.destroy();
}
