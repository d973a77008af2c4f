import { gridFor, type Dispatch } from '../../gpu/commands.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { WORKGROUP_SIZE, wgslEnum } from '../wgsl.ts';

/** The tensor modifiers of shaders/attribution/lrp.wgsl, named as its MODIFIER_* constants are. */
export type LrpModifier = 'positive' | 'negative' | 'gamma' | 'ones';

interface Params {
  count: number;
  gamma?: number;
  epsilon?: number;
  sign?: number;
  accumulate?: boolean;
  inner?: number;
  channels?: number;
}

/** One entry point of lrp.wgsl over `count` elements; none of them loops. */
async function lrpKernel(
  context: GpuContext,
  entry: string,
  buffers: Record<string, GPUBuffer>,
  p: Params,
  modifier: LrpModifier = 'positive',
): Promise<Dispatch> {
  const kernel = await context.kernels.kernel('lrp', entry, { MODIFIER: wgslEnum('lrp', 'MODIFIER', modifier), WORKGROUP_SIZE });
  const params = {
    count: p.count,
    gamma: p.gamma ?? 0,
    epsilon: p.epsilon ?? 0,
    sign: p.sign ?? 1,
    accumulate: Number(p.accumulate ?? false),
    inner: p.inner ?? 1,
    channels: p.channels ?? 1,
  };
  return { bound: kernel.bind(context.device, { params, ...buffers }), workgroups: gridFor(p.count, WORKGROUP_SIZE), iterations: 0 };
}

/** y = modifier(x): max(x, 0), min(x, 0), x + γ·max(x, 0) or 1. */
export const lrpModify = (context: GpuContext, io: { x: GPUBuffer; y: GPUBuffer }, dims: { count: number; modifier: LrpModifier; gamma?: number }) =>
  lrpKernel(context, 'lrp_modify', io, dims, dims.modifier);

/** y = a bound (one value, or one per channel of axis 1) broadcast over `count` elements with `inner` per channel. */
export const lrpBound = (context: GpuContext, io: { bound: GPUBuffer; y: GPUBuffer }, dims: { count: number; inner: number; channels: number }) =>
  lrpKernel(context, 'lrp_bound', io, dims);

/** z ← R / (z + ε·sign z), sign 0 = 1; 0 where that is 0. */
export const lrpDivide = (context: GpuContext, io: { relevance: GPUBuffer; z: GPUBuffer }, dims: { count: number; epsilon: number }) =>
  lrpKernel(context, 'lrp_divide', io, dims);

/** y (=|+=) sign·x. */
export const lrpAdd = (context: GpuContext, io: { x: GPUBuffer; y: GPUBuffer }, dims: { count: number; sign?: number; accumulate?: boolean }) =>
  lrpKernel(context, 'lrp_add', io, dims);

/** y (=|+=) sign·x ⊙ c. */
export const lrpProduct = (
  context: GpuContext,
  io: { x: GPUBuffer; c: GPUBuffer; y: GPUBuffer },
  dims: { count: number; sign?: number; accumulate?: boolean },
) => lrpKernel(context, 'lrp_product', io, dims);
