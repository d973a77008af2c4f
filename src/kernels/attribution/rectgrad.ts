import { gridFor, type Dispatch } from '../../gpu/commands.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { GradlensError } from '../../gpu/errors.ts';
import { loopIterations, stridedIterations } from '../../gpu/limits.ts';
import { WORKGROUP_SIZE } from '../wgsl.ts';

export interface RectGradDims {
  /** Elements of the layer over the whole batch. */
  count: number;
  /** Samples; each gets its own threshold over count / batch elements. */
  batch: number;
  /** q in [0, 100]. */
  percentile: number;
  accumulate?: boolean;
}

/**
 * Where the q-th percentile of n values lies among them sorted: rank h = (n − 1)·q/100, interpolated linearly
 * between the neighbours (numpy's and torch.quantile's default). Kim et al.'s TensorFlow code takes the nearest
 * rank instead; the two keep the same entries but for at most one per sample and layer, and the linear one still
 * lets a small layer's largest importance through at q = 98.
 */
export function percentileRank(n: number, percentile: number): { rank: number; fraction: number } {
  const h = ((n - 1) * percentile) / 100;
  const rank = Math.min(Math.floor(h), n - 1);
  return { rank, fraction: h - rank };
}

/**
 * RectGrad's ReLU backward: τ per sample (the percentile of a ⊙ g, with a = max(x, 0)), then
 * grad_x (=|+=) g · 1[a ⊙ g > τ]. `x` may be the ReLU's input or its output; `threshold` holds batch floats.
 */
export async function rectGradBackward(
  context: GpuContext,
  io: { x: GPUBuffer; gradY: GPUBuffer; gradX: GPUBuffer; threshold: GPUBuffer },
  dims: RectGradDims,
): Promise<Dispatch[]> {
  const { count, batch, percentile } = dims;
  if (!(percentile >= 0 && percentile <= 100)) throw new GradlensError('BAD_PARAMS', `RectGrad's percentile must lie in [0, 100], got ${percentile}`);
  if (!Number.isInteger(batch) || batch < 1 || count % batch !== 0 || count === 0) {
    throw new GradlensError('BAD_PARAMS', `RectGrad: a layer of ${count} values does not split into ${batch} samples`);
  }
  const perSample = count / batch;
  const { rank, fraction } = percentileRank(perSample, percentile);
  const params = { count, per_sample: perSample, rank, fraction, accumulate: Number(dims.accumulate ?? false) };
  const [select, mask] = await Promise.all(
    ['rectgrad_threshold', 'rectgrad_backward'].map((entry) => context.kernels.kernel('rectgrad', entry, { WORKGROUP_SIZE })),
  );
  const shared = { params, x: io.x, grad_y: io.gradY, threshold: io.threshold };
  // The threshold's radix select: 4 digit levels and one last pass, each clearing and scanning 256 bins and walking
  // the invocation's share of the sample.
  const selectIterations = loopIterations(5) + 5 * (stridedIterations(perSample, WORKGROUP_SIZE) + 2 * loopIterations(256));
  return [
    { bound: select!.bind(context.device, shared), workgroups: gridFor(batch, 1), iterations: selectIterations }, // one workgroup per sample
    { bound: mask!.bind(context.device, { ...shared, grad_x: io.gradX }), workgroups: gridFor(count, WORKGROUP_SIZE), iterations: 0 },
  ];
}
