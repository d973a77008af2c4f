// Plain float64 reference of shaders/resize.wgsl: ONNX Resize (opset 13–19 formulas) on the two spatial axes of NCHW,
// output size given, scale = out / in per axis, no antialias, exclude_outside 0, cubic and tf_crop_and_resize not covered.

export const RESIZE_MODES = ['nearest', 'linear'] as const;
export const COORDINATE_MODES = ['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric'] as const;
export const NEAREST_MODES = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'] as const;

export interface ResizeSpec {
  batch: number;
  channels: number;
  inHeight: number;
  inWidth: number;
  outHeight: number;
  outWidth: number;
  mode: (typeof RESIZE_MODES)[number];
  coordinateTransformationMode: (typeof COORDINATE_MODES)[number];
  nearestMode: (typeof NEAREST_MODES)[number];
}

/**
 * x_original for output coordinate x_resized (the ONNX spec's formulas, scale = out / in). Written as
 * (x + 0.5)·in / out − 0.5 rather than (x + 0.5) / scale − 0.5 so a coordinate exactly halfway between two pixels
 * comes out exactly .5 in float64, and nearest_mode decides it, not a rounding of the scale.
 */
export function originalCoordinate(x: number, inSize: number, outSize: number, mode: ResizeSpec['coordinateTransformationMode']): number {
  switch (mode) {
    case 'half_pixel':
      return ((x + 0.5) * inSize) / outSize - 0.5;
    // The spec's text says 0 for a length-1 output; onnx.reference says −0.5: both pick input 0 in every mode.
    case 'pytorch_half_pixel':
      return outSize > 1 ? ((x + 0.5) * inSize) / outSize - 0.5 : 0;
    case 'align_corners':
      return outSize === 1 ? 0 : (x * (inSize - 1)) / (outSize - 1);
    case 'asymmetric':
      return (x * inSize) / outSize;
  }
}

/** The input taps and weights one output coordinate reads along one axis (weights sum to 1). */
export function taps(x: number, inSize: number, outSize: number, spec: ResizeSpec): { index: number; weight: number }[] {
  const xo = originalCoordinate(x, inSize, outSize, spec.coordinateTransformationMode);
  const clampIndex = (i: number) => Math.min(Math.max(i, 0), inSize - 1);
  if (spec.mode === 'nearest') {
    const fraction = xo - Math.floor(xo);
    const rounded = {
      round_prefer_floor: fraction === 0.5 ? Math.floor(xo) : Math.round(xo),
      round_prefer_ceil: fraction === 0.5 ? Math.ceil(xo) : Math.round(xo),
      floor: Math.floor(xo),
      ceil: Math.ceil(xo),
    }[spec.nearestMode];
    return [{ index: clampIndex(rounded), weight: 1 }];
  }
  // Linear: ONNX pads the data by edge replication, which is the source coordinate clamped to [0, in − 1].
  const xc = Math.min(Math.max(xo, 0), inSize - 1);
  const i0 = Math.floor(xc);
  return [
    { index: i0, weight: 1 - (xc - i0) },
    { index: clampIndex(i0 + 1), weight: xc - i0 },
  ];
}

function forEachOutput(spec: ResizeSpec, visit: (o: number, inputIndex: number, weight: number) => void): void {
  const inPlane = spec.inHeight * spec.inWidth;
  let o = 0;
  for (let p = 0; p < spec.batch * spec.channels; p++) {
    for (let oy = 0; oy < spec.outHeight; oy++) {
      const rows = taps(oy, spec.inHeight, spec.outHeight, spec);
      for (let ox = 0; ox < spec.outWidth; ox++, o++) {
        const columns = taps(ox, spec.inWidth, spec.outWidth, spec);
        for (const r of rows) for (const c of columns) visit(o, p * inPlane + r.index * spec.inWidth + c.index, r.weight * c.weight);
      }
    }
  }
}

/** y = Σ over the taps of the separable (bi)linear or nearest interpolation. */
export function resize(x: ArrayLike<number>, spec: ResizeSpec): Float64Array {
  const y = new Float64Array(spec.batch * spec.channels * spec.outHeight * spec.outWidth);
  forEachOutput(spec, (o, i, w) => (y[o]! += w * x[i]!));
  return y;
}

/** dL/dx: every output's gradient times each tap's weight, scattered to that tap (the kernel gathers instead). */
export function resizeBackward(gradY: ArrayLike<number>, spec: ResizeSpec): Float64Array {
  const gradX = new Float64Array(spec.batch * spec.channels * spec.inHeight * spec.inWidth);
  forEachOutput(spec, (o, i, w) => (gradX[i]! += w * gradY[o]!));
  return gradX;
}
