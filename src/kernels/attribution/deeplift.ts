import { gridFor, type Dispatch } from '../../gpu/commands.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { GradlensError } from '../../gpu/errors.ts';
import { WORKGROUP_SIZE } from '../wgsl.ts';

/** A tensor over a batch of (input, reference) row pairs, as DeepLift's plans run it (shaders/attribution/deeplift.wgsl). */
export interface PairedDims {
  /** Elements of the tensor, whole batch. */
  count: number;
  /** Rows: an even number, row 2p the input's and 2p + 1 its reference's. */
  batch: number;
  accumulate?: boolean;
}

type Entry = 'deeplift_rescale' | 'deeplift_pool_weights' | 'deeplift_routed' | 'deeplift_center';

async function paired(context: GpuContext, entry: Entry, resources: Record<string, GPUBuffer>, dims: PairedDims): Promise<Dispatch> {
  const { count, batch } = dims;
  if (!Number.isInteger(batch) || batch < 2 || batch % 2 !== 0 || count % batch !== 0 || count === 0) {
    throw new GradlensError('BAD_PARAMS', `DeepLift: a tensor of ${count} values does not split into ${batch} rows of (input, reference) pairs`);
  }
  const row = count / batch;
  const params = { count, row, accumulate: Number(dims.accumulate ?? false), scale: 1 / (2 * row) };
  const kernel = await context.kernels.kernel('deeplift', entry, { WORKGROUP_SIZE });
  return { bound: kernel.bind(context.device, { params, ...resources }), workgroups: gridFor(count, WORKGROUP_SIZE), iterations: 0 };
}

/** A pointwise nonlinearity: grad_x (=|+=) g · Δy/Δx, or `fallback` (the ordinary gradient) where |Δx| < 1e-10. */
export const deepLiftRescale = (
  context: GpuContext,
  io: { x: GPUBuffer; y: GPUBuffer; gradY: GPUBuffer; fallback: GPUBuffer; gradX: GPUBuffer },
  dims: PairedDims,
) => paired(context, 'deeplift_rescale', { x: io.x, y: io.y, grad_y: io.gradY, fallback: io.fallback, grad_x: io.gradX }, dims);

/** MaxPool's output gradient weighted by the row's share of Δy at the cross maximum (over the output tensor). */
export const deepLiftPoolWeights = (context: GpuContext, io: { y: GPUBuffer; gradY: GPUBuffer; weighted: GPUBuffer }, dims: PairedDims) =>
  paired(context, 'deeplift_pool_weights', { y: io.y, grad_y: io.gradY, weighted: io.weighted }, dims);

/** MaxPool's multiplier: grad_x (=|+=) (routed_input + routed_reference)/Δx, or `fallback` where |Δx| < 1e-10. */
export const deepLiftRouted = (
  context: GpuContext,
  io: { x: GPUBuffer; routed: GPUBuffer; fallback: GPUBuffer; gradX: GPUBuffer },
  dims: PairedDims,
) => paired(context, 'deeplift_routed', { x: io.x, routed: io.routed, fallback: io.fallback, grad_x: io.gradX }, dims);

/** Softmax's normalisation: grad_x (=|+=) rescaled − (its sum over the pair)/(2·row); `sums` from a Reduce sum. */
export const deepLiftCenter = (context: GpuContext, io: { rescaled: GPUBuffer; sums: GPUBuffer; gradX: GPUBuffer }, dims: PairedDims) =>
  paired(context, 'deeplift_center', { weighted: io.rescaled, sums: io.sums, grad_x: io.gradX }, dims);
