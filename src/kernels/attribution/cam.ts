import { gridFor, type Dispatch } from '../../gpu/commands.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { GradlensError } from '../../gpu/errors.ts';
import { loopIterations, stridedIterations, treeIterations } from '../../gpu/limits.ts';
import { WORKGROUP_SIZE, wgslEnum } from '../wgsl.ts';

/** Channel weights: Grad-CAM's spatial mean of the gradient, or Grad-CAM++'s. */
export const CAM_WEIGHTINGS = ['grad-cam', 'grad-cam-plus-plus'] as const;
export type CamWeighting = (typeof CAM_WEIGHTINGS)[number];
/** FullGrad's bias factor: one value per channel, or a tensor shaped like the gradient. */
export const FULLGRAD_FACTORS = ['channel', 'element'] as const;
export type FullGradFactor = (typeof FULLGRAD_FACTORS)[number];

/** A chunk of samples' NCHW tensors at one layer: `spatial` = h·w. */
export interface LayerDims {
  count: number;
  channels: number;
  spatial: number;
}

/** Where FullGrad's per-sample statistics go: row (first + n)·terms + slot of `statistics`. */
export interface TermSlot {
  first: number;
  slot: number;
  terms: number;
}

function params(dims: LayerDims, extra: Partial<{ first: number; relu: boolean; slot: number; terms: number; accumulate: boolean }> = {}) {
  const sizes = [dims.count, dims.channels, dims.spatial];
  if (!sizes.every((v) => Number.isInteger(v) && v >= 1))
    throw new GradlensError('BAD_PARAMS', `cam: sizes must be positive integers (got ${sizes.join(', ')})`);
  return {
    count: dims.count,
    channels: dims.channels,
    spatial: dims.spatial,
    first: extra.first ?? 0,
    relu: Number(extra.relu ?? false),
    slot: extra.slot ?? 0,
    terms: extra.terms ?? 1,
    accumulate: Number(extra.accumulate ?? false),
  };
}

/** weights[n, k]: Grad-CAM's spatial mean of ∂f/∂A^k, or Grad-CAM++'s Σ_ij α_ij relu(g_ij). */
export async function camWeights(
  context: GpuContext,
  io: { activation: GPUBuffer; gradient: GPUBuffer; weights: GPUBuffer },
  dims: LayerDims & { weighting: CamWeighting },
): Promise<Dispatch> {
  const kernel = await context.kernels.kernel('cam', 'cam_weights', { WORKGROUP_SIZE, WEIGHTING: wgslEnum('cam', 'WEIGHTING', dims.weighting) });
  // Grad-CAM never reads A: bind it anyway (the binding is used by the ++ branch of the same entry point).
  const bound = kernel.bind(context.device, { params: params(dims), ...io });
  return {
    bound,
    workgroups: gridFor(dims.count * dims.channels, WORKGROUP_SIZE),
    iterations: (dims.weighting === 'grad-cam' ? 1 : 2) * loopIterations(dims.spatial),
  };
}

/** map[n, 0, i, j] = Σ_k weights[n, k] · A[n, k, i, j], ReLU'd when asked. */
export async function camMap(
  context: GpuContext,
  io: { activation: GPUBuffer; weights: GPUBuffer; map: GPUBuffer },
  dims: LayerDims & { relu: boolean },
): Promise<Dispatch> {
  const kernel = await context.kernels.kernel('cam', 'cam_map', { WORKGROUP_SIZE });
  const bound = kernel.bind(context.device, { params: params(dims, { relu: dims.relu }), ...io });
  return { bound, workgroups: gridFor(dims.count * dims.spatial, WORKGROUP_SIZE), iterations: loopIterations(dims.channels) };
}

/**
 * result[first + n, c, i, j] = upsampled[n, 0, i, j] (times guided[n, c, i, j] when given): a map broadcast over the
 * input's `channels`, `spatial` = H·W.
 */
export async function camExpand(
  context: GpuContext,
  io: { upsampled: GPUBuffer; result: GPUBuffer; guided?: GPUBuffer },
  dims: LayerDims & { first: number },
): Promise<Dispatch> {
  const entry = io.guided ? 'cam_expand_guided' : 'cam_expand';
  const kernel = await context.kernels.kernel('cam', entry, { WORKGROUP_SIZE });
  const resources = {
    params: params(dims, { first: dims.first }),
    upsampled: io.upsampled,
    result: io.result,
    ...(io.guided ? { guided: io.guided } : {}),
  };
  return {
    bound: kernel.bind(context.device, resources),
    workgroups: gridFor(dims.count * dims.channels * dims.spatial, WORKGROUP_SIZE),
    iterations: 0,
  };
}

/** FullGrad: min |t|, max |t| and Σ t per sample of t = gradient ⊙ factor (a bias per channel, or x). */
export async function fullGradStatistics(
  context: GpuContext,
  io: { gradient: GPUBuffer; factor: GPUBuffer; statistics: GPUBuffer },
  dims: LayerDims & TermSlot & { factor: FullGradFactor },
): Promise<Dispatch> {
  if (dims.count > 65535) throw new GradlensError('BAD_PARAMS', `fullgrad: at most 65535 samples per chunk, got ${dims.count}`);
  const kernel = await context.kernels.kernel('cam', 'fullgrad_statistics', { WORKGROUP_SIZE, FACTOR: wgslEnum('cam', 'FACTOR', dims.factor) });
  const bound = kernel.bind(context.device, { params: params(dims, dims), ...io });
  const iterations = stridedIterations(dims.channels * dims.spatial, WORKGROUP_SIZE) + treeIterations(WORKGROUP_SIZE);
  return { bound, workgroups: [dims.count, 1, 1], iterations };
}

/** FullGrad: map[n, 0, i, j] = Σ_c ψ(t[n, c, i, j]) with ψ the min-max normalised |t| from the statistics. */
export async function fullGradMap(
  context: GpuContext,
  io: { gradient: GPUBuffer; factor: GPUBuffer; statistics: GPUBuffer; map: GPUBuffer },
  dims: LayerDims & TermSlot & { factor: FullGradFactor },
): Promise<Dispatch> {
  const kernel = await context.kernels.kernel('cam', 'fullgrad_map', { WORKGROUP_SIZE, FACTOR: wgslEnum('cam', 'FACTOR', dims.factor) });
  const bound = kernel.bind(context.device, { params: params(dims, dims), ...io });
  return { bound, workgroups: gridFor(dims.count * dims.spatial, WORKGROUP_SIZE), iterations: loopIterations(dims.channels) };
}

/** total (=|+=) upsampled, both [count, 1, H, W] with `spatial` = H·W. */
export async function fullGradAccumulate(
  context: GpuContext,
  io: { upsampled: GPUBuffer; total: GPUBuffer },
  dims: { count: number; spatial: number; accumulate: boolean },
): Promise<Dispatch> {
  const kernel = await context.kernels.kernel('cam', 'fullgrad_accumulate', { WORKGROUP_SIZE });
  const bound = kernel.bind(context.device, { params: params({ ...dims, channels: 1 }, { accumulate: dims.accumulate }), ...io });
  return { bound, workgroups: gridFor(dims.count * dims.spatial, WORKGROUP_SIZE), iterations: 0 };
}
