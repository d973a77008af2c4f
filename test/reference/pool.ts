// Plain float64 reference of shaders/pool.wgsl, written from the ONNX MaxPool / AveragePool / GlobalAveragePool
// definitions, with PyTorch's conventions where ONNX leaves a choice (tie-breaking, average-pool divisor).
// Tensors are NCHW; windows start at o·stride − pad_begin and take taps at start + k·dilation.

export interface PoolShape {
  batch: number;
  channels: number;
  height: number;
  width: number;
}

export interface PoolWindow {
  kernelShape: [number, number];
  strides: [number, number];
  /** [top, left, bottom, right], as ONNX's [x1_begin, x2_begin, x1_end, x2_end]. */
  pads: [number, number, number, number];
  dilations: [number, number];
  ceilMode: boolean;
}

/**
 * ONNX output size per axis: ⌊ or ⌈ (in + pads − ((k−1)·d + 1)) / s ⌉ + 1; with ceil mode a last window that
 * would start past the input and its left padding is dropped (PyTorch's rule, also ONNX opset ≥ 19's text).
 */
export function outputSize(shape: PoolShape, w: PoolWindow): [number, number] {
  const axis = (size: number, a: 0 | 1) => {
    const span = size + w.pads[a] + w.pads[a + 2]! - ((w.kernelShape[a] - 1) * w.dilations[a] + 1);
    let out = (w.ceilMode ? Math.ceil(span / w.strides[a]) : Math.floor(span / w.strides[a])) + 1;
    if (w.ceilMode && (out - 1) * w.strides[a] >= size + w.pads[a]) out--;
    return out;
  };
  return [axis(shape.height, 0), axis(shape.width, 1)];
}

/** Calls window(oh, ow) for each output window, then visit(ih, iw) for its in-input taps in row-major window order. */
function forEachTap(shape: PoolShape, w: PoolWindow, window: (oh: number, ow: number) => void, visit: (ih: number, iw: number) => void): void {
  const [oh_, ow_] = outputSize(shape, w);
  for (let oh = 0; oh < oh_; oh++) {
    for (let ow = 0; ow < ow_; ow++) {
      window(oh, ow);
      for (let kh = 0; kh < w.kernelShape[0]; kh++) {
        const ih = oh * w.strides[0] - w.pads[0] + kh * w.dilations[0];
        if (ih < 0 || ih >= shape.height) continue;
        for (let kw = 0; kw < w.kernelShape[1]; kw++) {
          const iw = ow * w.strides[1] - w.pads[1] + kw * w.dilations[1];
          if (iw >= 0 && iw < shape.width) visit(ih, iw);
        }
      }
    }
  }
}

/**
 * MaxPool: padding never wins (−∞). argmax is the winning element's index in its (n, c) plane; ties go to the first
 * maximal element in row-major window order (strict >, as PyTorch). A window with no input element gives −∞ and
 * argmax −1.
 */
export function maxPool(x: ArrayLike<number>, shape: PoolShape, w: PoolWindow): { y: Float64Array; argmax: Int32Array } {
  const [oh_, ow_] = outputSize(shape, w);
  const planes = shape.batch * shape.channels;
  const inPlane = shape.height * shape.width;
  const y = new Float64Array(planes * oh_ * ow_);
  const argmax = new Int32Array(y.length);
  for (let p = 0; p < planes; p++) {
    let o = p * oh_ * ow_ - 1;
    forEachTap(
      shape,
      w,
      () => {
        o++;
        y[o] = -Infinity;
        argmax[o] = -1;
      },
      (ih, iw) => {
        const v = x[p * inPlane + ih * shape.width + iw]!;
        if (argmax[o] === -1 || v > y[o]!) {
          y[o] = v;
          argmax[o] = ih * shape.width + iw;
        }
      },
    );
  }
  return { y, argmax };
}

/** dL/dx of MaxPool: each output's gradient goes to its argmax (a scatter, unlike the kernel's gather). */
export function maxPoolBackward(x: ArrayLike<number>, gradY: ArrayLike<number>, shape: PoolShape, w: PoolWindow): Float64Array {
  const { argmax } = maxPool(x, shape, w);
  const [oh_, ow_] = outputSize(shape, w);
  const inPlane = shape.height * shape.width;
  const gradX = new Float64Array(shape.batch * shape.channels * inPlane);
  argmax.forEach((a, o) => {
    if (a >= 0) gradX[Math.floor(o / (oh_ * ow_)) * inPlane + a]! += gradY[o]!;
  });
  return gradX;
}

/**
 * PyTorch's avg_pool2d divisor, per axis: with count_include_pad the taps inside the padded input
 * [−pad_begin, in + pad_end) (so ceil mode's overhang is not counted), otherwise the taps inside the input.
 */
function divisor(oh: number, ow: number, shape: PoolShape, w: PoolWindow, countIncludePad: boolean): number {
  const count = (o: number, a: 0 | 1, size: number) => {
    let n = 0;
    for (let k = 0; k < w.kernelShape[a]; k++) {
      const i = o * w.strides[a] - w.pads[a] + k * w.dilations[a];
      if (countIncludePad ? i < size + w.pads[a + 2]! : i >= 0 && i < size) n++;
    }
    return n;
  };
  return count(oh, 0, shape.height) * count(ow, 1, shape.width);
}

/** AveragePool: the sum over the window's input elements divided by divisor(); 0 where the divisor is 0. */
export function averagePool(x: ArrayLike<number>, shape: PoolShape, w: PoolWindow, countIncludePad: boolean): Float64Array {
  const [oh_, ow_] = outputSize(shape, w);
  const planes = shape.batch * shape.channels;
  const inPlane = shape.height * shape.width;
  const y = new Float64Array(planes * oh_ * ow_);
  for (let p = 0; p < planes; p++) {
    let o = p * oh_ * ow_ - 1;
    let scale = 0;
    forEachTap(
      shape,
      w,
      (oh, ow) => {
        o++;
        const d = divisor(oh, ow, shape, w, countIncludePad);
        scale = d === 0 ? 0 : 1 / d;
      },
      (ih, iw) => (y[o]! += x[p * inPlane + ih * shape.width + iw]! * scale),
    );
  }
  return y;
}

/** dL/dx of AveragePool: each output's gradient / divisor to every input element of its window (a scatter). */
export function averagePoolBackward(gradY: ArrayLike<number>, shape: PoolShape, w: PoolWindow, countIncludePad: boolean): Float64Array {
  const [oh_, ow_] = outputSize(shape, w);
  const inPlane = shape.height * shape.width;
  const gradX = new Float64Array(shape.batch * shape.channels * inPlane);
  for (let p = 0; p < shape.batch * shape.channels; p++) {
    let o = p * oh_ * ow_ - 1;
    let share = 0;
    forEachTap(
      shape,
      w,
      (oh, ow) => {
        o++;
        share = gradY[o]! / divisor(oh, ow, shape, w, countIncludePad);
      },
      (ih, iw) => (gradX[p * inPlane + ih * shape.width + iw]! += share),
    );
  }
  return gradX;
}

/** GlobalAveragePool: y[n, c] = mean over H·W of x[n, c]. */
export function globalAveragePool(x: ArrayLike<number>, shape: PoolShape): Float64Array {
  const inPlane = shape.height * shape.width;
  return Float64Array.from({ length: shape.batch * shape.channels }, (_, p) => {
    let sum = 0;
    for (let i = 0; i < inPlane; i++) sum += x[p * inPlane + i]!;
    return sum / inPlane;
  });
}

export function globalAveragePoolBackward(gradY: ArrayLike<number>, shape: PoolShape): Float64Array {
  const inPlane = shape.height * shape.width;
  return Float64Array.from({ length: shape.batch * shape.channels * inPlane }, (_, i) => gradY[Math.floor(i / inPlane)]! / inPlane);
}
