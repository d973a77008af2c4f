import { gridFor, type Dispatch } from '../gpu/commands.ts';
import type { GpuContext } from '../gpu/device.ts';
import { GradlensError } from '../gpu/errors.ts';
import { WORKGROUP_SIZE, wgslEnum } from './wgsl.ts';
import { nestedIterations } from '../gpu/limits.ts';

/** ONNX Resize attribute values, spelt as ONNX spells them. */
export const RESIZE_MODES = ['nearest', 'linear'] as const;
export type ResizeMode = (typeof RESIZE_MODES)[number];
export const COORDINATE_TRANSFORMATION_MODES = ['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric'] as const;
export type CoordinateTransformationMode = (typeof COORDINATE_TRANSFORMATION_MODES)[number];
export const NEAREST_MODES = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'] as const;
export type NearestMode = (typeof NEAREST_MODES)[number];

/**
 * Resize of the two spatial axes of an NCHW tensor to a given output size; the scale per axis is out / in
 * (ONNX's `sizes` input; `scales` that do not equal out / in are not represented). Defaults are ONNX's.
 */
export interface ResizeDims {
  batch: number;
  channels: number;
  inHeight: number;
  inWidth: number;
  outHeight: number;
  outWidth: number;
  /** Default 'nearest'; 'linear' is bilinear over (h, w), without antialias. */
  mode?: ResizeMode;
  /** Default 'half_pixel'. */
  coordinateTransformationMode?: CoordinateTransformationMode;
  /** Default 'round_prefer_floor'. */
  nearestMode?: NearestMode;
}

/** x_original = (o·mul + add) / den on one axis: the ONNX formula for the mode with scale = out / in, in integers. */
export function coordinateMapping(inSize: number, outSize: number, mode: CoordinateTransformationMode): { mul: number; add: number; den: number } {
  switch (mode) {
    case 'half_pixel':
      return { mul: 2 * inSize, add: inSize - outSize, den: 2 * outSize }; // (o + ½)·in/out − ½
    case 'pytorch_half_pixel':
      return outSize > 1 ? coordinateMapping(inSize, outSize, 'half_pixel') : { mul: 0, add: 0, den: 1 };
    case 'align_corners':
      return outSize > 1 ? { mul: inSize - 1, add: 0, den: outSize - 1 } : { mul: 0, add: 0, den: 1 };
    case 'asymmetric':
      return { mul: inSize, add: 0, den: outSize };
  }
}

function setup(dims: ResizeDims, accumulate: boolean) {
  const sizes = [dims.batch, dims.channels, dims.inHeight, dims.inWidth, dims.outHeight, dims.outWidth];
  if (!sizes.every((v) => Number.isInteger(v) && v >= 1))
    throw new GradlensError('BAD_PARAMS', `resize: sizes must be positive integers (got ${sizes.join(', ')})`);
  // The kernel's integer coordinates reach about 2·(in + 1)·(out + 1).
  if (2 * (Math.max(dims.inHeight, dims.inWidth) + 1) * (Math.max(dims.outHeight, dims.outWidth) + 1) > 2 ** 31 - 1) {
    throw new GradlensError(
      'BAD_PARAMS',
      `resize: ${dims.inHeight}×${dims.inWidth} → ${dims.outHeight}×${dims.outWidth} is too large for 32-bit coordinates`,
    );
  }
  const mode = dims.coordinateTransformationMode ?? 'half_pixel';
  const [h, w] = [coordinateMapping(dims.inHeight, dims.outHeight, mode), coordinateMapping(dims.inWidth, dims.outWidth, mode)];
  const params = {
    planes: dims.batch * dims.channels,
    in_size: [dims.inHeight, dims.inWidth],
    out_size: [dims.outHeight, dims.outWidth],
    coord_mul: [h.mul, w.mul],
    coord_add: [h.add, w.add],
    coord_den: [h.den, w.den],
    accumulate: Number(accumulate),
  };
  const overrides = {
    MODE: wgslEnum('resize', 'MODE', dims.mode ?? 'nearest'),
    NEAREST_MODE: wgslEnum('resize', 'NEAREST_MODE', dims.nearestMode ?? 'round_prefer_floor'),
    WORKGROUP_SIZE,
  };
  return { params, overrides };
}

/** y (N×C×outHeight×outWidth) = ONNX Resize of x (N×C×inHeight×inWidth). */
export async function resizeForward(context: GpuContext, io: { x: GPUBuffer; y: GPUBuffer }, dims: ResizeDims): Promise<Dispatch> {
  const { params, overrides } = setup(dims, false);
  const kernel = await context.kernels.kernel('resize', 'resize_forward', overrides);
  const bound = kernel.bind(context.device, { params, x: io.x, y: io.y });
  return { bound, workgroups: gridFor(params.planes * dims.outHeight * dims.outWidth, WORKGROUP_SIZE), iterations: 0 };
}

/** gradX (=|+=) Σ gradY · interpolation weight over the outputs that read each input element. */
export async function resizeBackward(
  context: GpuContext,
  io: { gradY: GPUBuffer; gradX: GPUBuffer },
  dims: ResizeDims & { accumulate?: boolean },
): Promise<Dispatch> {
  const { params, overrides } = setup(dims, dims.accumulate ?? false);
  const kernel = await context.kernels.kernel('resize', 'resize_backward', overrides);
  const bound = kernel.bind(context.device, { params, grad_y: io.gradY, grad_x: io.gradX });
  // candidate_outputs() spans two input steps of outputs and one more at each end (all outputs when one input feeds all).
  const candidates = (out: number, input: number) => (input === 1 ? out : 2 * Math.ceil(out / input) + 4);
  const rows = candidates(dims.outHeight, dims.inHeight);
  const iterations = nestedIterations(rows, candidates(dims.outWidth, dims.inWidth));
  return { bound, workgroups: gridFor(params.planes * dims.inHeight * dims.inWidth, WORKGROUP_SIZE), iterations };
}
