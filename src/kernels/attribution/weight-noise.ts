import { gridFor, type Dispatch } from '../../gpu/commands.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { WORKGROUP_SIZE } from '../wgsl.ts';

export interface WeightNoiseDims {
  /** Elements of the weight tensor. */
  count: number;
  /** The tensor's position among the model's weights: its own noise stream. */
  tensor: number;
  /** Which perturbed model, 0 … M − 1. */
  sample: number;
  seed: number;
  /** σ of the multiplicative noise η ~ N(1, σ²). */
  stdev: number;
}

const PHILOX_ROUNDS = 11; // one Philox4x32-10 draw per invocation: 10 rounds and the loop's exit

/** perturbed = weights ⊙ η, η ~ N(1, σ²) from the seeded Philox stream 2 (NoiseGrad, Bykov et al. 2022). */
export async function weightNoise(context: GpuContext, io: { weights: GPUBuffer; perturbed: GPUBuffer }, dims: WeightNoiseDims): Promise<Dispatch> {
  const kernel = await context.kernels.kernel('weight-noise', 'weight_noise', { WORKGROUP_SIZE });
  const params = {
    count: dims.count,
    tensor: dims.tensor,
    sample: dims.sample,
    seed_lo: dims.seed >>> 0,
    seed_hi: Math.floor(dims.seed / 2 ** 32) >>> 0,
    stdev: dims.stdev,
  };
  return { bound: kernel.bind(context.device, { params, ...io }), workgroups: gridFor(dims.count, WORKGROUP_SIZE), iterations: PHILOX_ROUNDS };
}
