import { gridFor, type Dispatch } from '../gpu/commands.ts';
import type { GpuContext } from '../gpu/device.ts';
import { GradlensError } from '../gpu/errors.ts';
import { WORKGROUP_SIZE } from './wgsl.ts';

export interface BatchNormDims {
  /** x's shape: [N, C, ...], channels at axis 1, rank ≥ 2. */
  shape: readonly number[];
}

/**
 * Inference BatchNormalization as a per-channel affine map: scale = γ/√(σ² + ε), shift = β − μ·scale,
 * computed in float64 and rounded once to float32. ONNX's default ε is 1e-5.
 */
export function batchNormToAffine(
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  epsilon = 1e-5,
): { scale: Float32Array; shift: Float32Array } {
  const channels = gamma.length;
  if (beta.length !== channels || mean.length !== channels || variance.length !== channels) {
    throw new GradlensError(
      'BAD_PARAMS',
      `BatchNormalization: scale, B, mean and var must have one length (got ${channels}, ${beta.length}, ${mean.length}, ${variance.length})`,
    );
  }
  const scale = new Float32Array(channels);
  const shift = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const s = gamma[c]! / Math.sqrt(variance[c]! + epsilon);
    scale[c] = s;
    shift[c] = beta[c]! - mean[c]! * s;
  }
  return { scale, shift };
}

function uniformParams(shape: readonly number[], accumulate: boolean) {
  if (shape.length < 2) throw new GradlensError('BAD_PARAMS', `BatchNormalization: x needs rank ≥ 2 ([N, C, ...]), got [${shape}]`);
  const spatial = shape.slice(2).reduce((n, extent) => n * extent, 1);
  return { count: shape[0]! * shape[1]! * spatial, channels: shape[1]!, spatial, accumulate: Number(accumulate) };
}

/** y = x·scale[c] + shift[c], with scale and shift from batchNormToAffine. */
export async function batchNormForward(
  context: GpuContext,
  io: { x: GPUBuffer; scale: GPUBuffer; shift: GPUBuffer; y: GPUBuffer },
  dims: BatchNormDims,
): Promise<Dispatch> {
  const kernel = await context.kernels.kernel('channel', 'channel_affine_forward', { WORKGROUP_SIZE });
  const params = uniformParams(dims.shape, false);
  return { bound: kernel.bind(context.device, { params, ...io }), workgroups: gridFor(params.count, WORKGROUP_SIZE), iterations: 0 };
}

/** grad_x (=|+=) grad_y·scale[c]. */
export async function batchNormBackward(
  context: GpuContext,
  io: { gradY: GPUBuffer; scale: GPUBuffer; gradX: GPUBuffer },
  dims: BatchNormDims & { accumulate?: boolean },
): Promise<Dispatch> {
  const kernel = await context.kernels.kernel('channel', 'channel_affine_backward', { WORKGROUP_SIZE });
  const params = uniformParams(dims.shape, dims.accumulate ?? false);
  const bound = kernel.bind(context.device, { params, grad_y: io.gradY, scale: io.scale, grad_x: io.gradX });
  return { bound, workgroups: gridFor(params.count, WORKGROUP_SIZE), iterations: 0 };
}
