import { gridFor, type Dispatch } from '../gpu/commands.ts';
import type { GpuContext } from '../gpu/device.ts';
import { WORKGROUP_SIZE, wgslEnum } from '../kernels/wgsl.ts';
import { stridedIterations } from '../gpu/limits.ts';

export const REDUCTIONS = ['sum', 'max-abs', 'l1', 'l2'] as const;
export type Reduction = (typeof REDUCTIONS)[number];
export const SIGNS = ['abs', 'positive', 'negative', 'signed'] as const;
export type Sign = (typeof SIGNS)[number];

/** What shaders/render.wgsl's `params` holds, in the field's words. */
export interface RenderParams {
  pixels: number;
  channels: number;
  layout: 'chw' | 'hwc';
  reduction: Reduction;
  sign: Sign;
  /** numpy's linear percentile: the weight of the upper of the two order statistics. */
  fraction: number;
  /** The normalised range is [−s, s] rather than [0, s]. */
  signedRange: boolean;
  /** Pixels colourised (the overlay's, when the map is resized to it). */
  outPixels: number;
  overlay: boolean;
  opacity: number;
}

/** Bytes of the `selection` struct: prefix[2], rank[2], shift, non_finite (u32) and lo, hi (f32). */
export const SELECTION_BYTES = 32;

// The histogram loops over the map with a fixed grid, so each pass adds at most this many workgroups' counts globally.
const HISTOGRAM_WORKGROUPS = 64;
const BINS = 256; // per radix digit, as shaders/render.wgsl

function uniforms(p: RenderParams) {
  return {
    pixels: p.pixels,
    channels: p.channels,
    pixel_stride: p.layout === 'chw' ? 1 : p.channels,
    channel_stride: p.layout === 'chw' ? p.pixels : 1,
    reduction: wgslEnum('render', 'REDUCTION', p.reduction),
    sign: wgslEnum('render', 'SIGN', p.sign),
    fraction: p.fraction,
    signed_range: Number(p.signedRange),
    out_pixels: p.outPixels,
    overlay: Number(p.overlay),
    opacity: p.opacity,
  };
}

/**
 * The select's starting state: the two ranks whose values bracket the percentile (numpy's linear method:
 * virtual index q·(n − 1)), or, with a fixed range, the range itself and no select to run.
 */
export function selectionState(
  pixels: number,
  scale: { percentile: number } | { range: readonly [number, number] },
): { bytes: ArrayBuffer; fraction: number } {
  const bytes = new ArrayBuffer(SELECTION_BYTES);
  const words = new Uint32Array(bytes);
  const floats = new Float32Array(bytes);
  words[4] = 24;
  if ('range' in scale) {
    [floats[6], floats[7]] = scale.range;
    return { bytes, fraction: 0 };
  }
  const position = (scale.percentile / 100) * (pixels - 1);
  const rank = Math.floor(position);
  words[2] = rank;
  words[3] = Math.min(rank + 1, pixels - 1);
  return { bytes, fraction: position - rank };
}

/** reduced[p] = sign(reduction over channels of attribution at p); counts non-finite elements into selection. */
export async function reduceDispatch(
  context: GpuContext,
  io: { attribution: GPUBuffer; reduced: GPUBuffer; selection: GPUBuffer },
  p: RenderParams,
): Promise<Dispatch> {
  const kernel = await context.kernels.kernel('render', 'render_reduce', { WORKGROUP_SIZE });
  return {
    bound: kernel.bind(context.device, { params: uniforms(p), ...io }),
    workgroups: gridFor(p.pixels, WORKGROUP_SIZE),
    iterations: p.channels + 1,
  };
}

/** Four histogram + select pairs: selection.lo/hi become the range whose end is the percentile of |reduced|. */
export async function percentileDispatches(
  context: GpuContext,
  io: { reduced: GPUBuffer; histogram: GPUBuffer; selection: GPUBuffer },
  p: RenderParams,
): Promise<Dispatch[]> {
  const [count, choose] = await Promise.all([
    context.kernels.kernel('render', 'render_histogram', { WORKGROUP_SIZE }),
    context.kernels.kernel('render', 'render_select'),
  ]);
  const params = uniforms(p);
  const groups = Math.min(Math.ceil(p.pixels / WORKGROUP_SIZE), HISTOGRAM_WORKGROUPS);
  // The digit being counted lives in selection.shift, so one binding of each serves all four passes.
  const histogram: Dispatch = {
    bound: count.bind(context.device, { params, reduced: io.reduced, histogram: io.histogram, selection: io.selection }),
    workgroups: [groups, 1, 1],
    iterations: stridedIterations(p.pixels, groups * WORKGROUP_SIZE) + 2 * stridedIterations(2 * BINS, WORKGROUP_SIZE),
  };
  const select: Dispatch = {
    bound: choose.bind(context.device, { params, histogram: io.histogram, selection: io.selection }),
    workgroups: [1, 1, 1],
    iterations: 4 * BINS + 8, // a scan of each of the two histograms, then clearing both
  };
  return [histogram, select, histogram, select, histogram, select, histogram, select];
}

/** pixels[p] = colormap(t(reduced[p])), over the image already in `pixels` when overlaid. */
export async function colorizeDispatch(
  context: GpuContext,
  io: { reduced: GPUBuffer; selection: GPUBuffer; lut: GPUBuffer; pixels: GPUBuffer },
  p: RenderParams,
): Promise<Dispatch> {
  const kernel = await context.kernels.kernel('render', 'render_colorize', { WORKGROUP_SIZE });
  return { bound: kernel.bind(context.device, { params: uniforms(p), ...io }), workgroups: gridFor(p.outPixels, WORKGROUP_SIZE), iterations: 0 };
}
