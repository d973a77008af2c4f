// Plain float64 reference of ONNX Conv (2-D, NCHW) and its input gradient: the test oracle, written from the
// definition y[n, co, oh, ow] = b[co] + Σ_{ci ∈ group(co), kh, kw} x[n, ci, oh·sh − pt + kh·dh, ow·sw − pl + kw·dw] · w[co, ci − g·Cin/G, kh, kw]
// (zero outside the input), not from the kernels. The input gradient is that sum's adjoint, taken by scattering.

export interface ConvShape {
  batch: number;
  inChannels: number;
  height: number;
  width: number;
  outChannels: number;
  kernelHeight: number;
  kernelWidth: number;
  strides: [number, number];
  dilations: [number, number];
  /** [top, left, bottom, right] */
  pads: [number, number, number, number];
  group: number;
}

export function outputSize(s: ConvShape): [number, number] {
  const [pt, pl, pb, pr] = s.pads;
  return [
    Math.floor((s.height + pt + pb - s.dilations[0] * (s.kernelHeight - 1) - 1) / s.strides[0]) + 1,
    Math.floor((s.width + pl + pr - s.dilations[1] * (s.kernelWidth - 1) - 1) / s.strides[1]) + 1,
  ];
}

/** Calls visit(yIndex, xIndex, wIndex) for every product x·w that enters y: the definition's sum, term by term. */
function forEachTerm(s: ConvShape, visit: (y: number, x: number, w: number) => void): void {
  const [outHeight, outWidth] = outputSize(s);
  const inPerGroup = s.inChannels / s.group;
  const outPerGroup = s.outChannels / s.group;
  for (let n = 0; n < s.batch; n++) {
    for (let co = 0; co < s.outChannels; co++) {
      const g = Math.floor(co / outPerGroup);
      for (let oh = 0; oh < outHeight; oh++) {
        for (let ow = 0; ow < outWidth; ow++) {
          const yIndex = ((n * s.outChannels + co) * outHeight + oh) * outWidth + ow;
          for (let c = 0; c < inPerGroup; c++) {
            const ci = g * inPerGroup + c;
            for (let kh = 0; kh < s.kernelHeight; kh++) {
              const ih = oh * s.strides[0] - s.pads[0] + kh * s.dilations[0];
              if (ih < 0 || ih >= s.height) continue;
              for (let kw = 0; kw < s.kernelWidth; kw++) {
                const iw = ow * s.strides[1] - s.pads[1] + kw * s.dilations[1];
                if (iw < 0 || iw >= s.width) continue;
                visit(
                  yIndex,
                  ((n * s.inChannels + ci) * s.height + ih) * s.width + iw,
                  ((co * inPerGroup + c) * s.kernelHeight + kh) * s.kernelWidth + kw,
                );
              }
            }
          }
        }
      }
    }
  }
}

export function conv2d(
  s: ConvShape,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  bias?: ArrayLike<number>,
  activation: 'none' | 'relu' = 'none',
): Float64Array {
  const [outHeight, outWidth] = outputSize(s);
  const spatial = outHeight * outWidth;
  const y = Float64Array.from({ length: s.batch * s.outChannels * spatial }, (_, i) => (bias ? bias[Math.floor(i / spatial) % s.outChannels]! : 0));
  forEachTerm(s, (yi, xi, wi) => (y[yi]! += x[xi]! * w[wi]!));
  return activation === 'relu' ? y.map((v) => Math.max(v, 0)) : y;
}

/** dL/dx for upstream gradient gradY: each term x·w of y sends gradY[y]·w back to its x. */
export function conv2dBackwardInput(s: ConvShape, gradY: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
  const gradX = new Float64Array(s.batch * s.inChannels * s.height * s.width);
  forEachTerm(s, (yi, xi, wi) => (gradX[xi]! += gradY[yi]! * w[wi]!));
  return gradX;
}

/**
 * ONNX ConvTranspose from its definition: every input element x[n, ci, ih, iw] adds x·w[ci, oc, kh, kw] to
 * y[n, g·C_out/G + oc, ih·sh − pt + kh·dh, iw·sw − pl + kw·dw] where that lies inside y ([outHeight, outWidth]).
 */
export interface ConvTransposeShape extends Omit<ConvShape, 'outChannels'> {
  /** C_out / group: the weight's second axis. */
  outPerGroup: number;
  outHeight: number;
  outWidth: number;
}

function forEachTransposedTerm(s: ConvTransposeShape, visit: (y: number, x: number, w: number) => void): void {
  const inPerGroup = s.inChannels / s.group;
  const outChannels = s.outPerGroup * s.group;
  for (let n = 0; n < s.batch; n++) {
    for (let ci = 0; ci < s.inChannels; ci++) {
      const g = Math.floor(ci / inPerGroup);
      for (let ih = 0; ih < s.height; ih++) {
        for (let iw = 0; iw < s.width; iw++) {
          const xIndex = ((n * s.inChannels + ci) * s.height + ih) * s.width + iw;
          for (let oc = 0; oc < s.outPerGroup; oc++) {
            const co = g * s.outPerGroup + oc;
            for (let kh = 0; kh < s.kernelHeight; kh++) {
              const oh = ih * s.strides[0] - s.pads[0] + kh * s.dilations[0];
              if (oh < 0 || oh >= s.outHeight) continue;
              for (let kw = 0; kw < s.kernelWidth; kw++) {
                const ow = iw * s.strides[1] - s.pads[1] + kw * s.dilations[1];
                if (ow < 0 || ow >= s.outWidth) continue;
                visit(
                  ((n * outChannels + co) * s.outHeight + oh) * s.outWidth + ow,
                  xIndex,
                  ((ci * s.outPerGroup + oc) * s.kernelHeight + kh) * s.kernelWidth + kw,
                );
              }
            }
          }
        }
      }
    }
  }
}

export function convTranspose2d(s: ConvTransposeShape, x: ArrayLike<number>, w: ArrayLike<number>, bias?: ArrayLike<number>): Float64Array {
  const spatial = s.outHeight * s.outWidth;
  const outChannels = s.outPerGroup * s.group;
  const y = Float64Array.from({ length: s.batch * outChannels * spatial }, (_, i) => (bias ? bias[Math.floor(i / spatial) % outChannels]! : 0));
  forEachTransposedTerm(s, (yi, xi, wi) => (y[yi]! += x[xi]! * w[wi]!));
  return y;
}

/** dL/dx: each term x·w of y sends gradY[y]·w back to its x. */
export function convTranspose2dBackwardInput(s: ConvTransposeShape, gradY: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
  const gradX = new Float64Array(s.batch * s.inChannels * s.height * s.width);
  forEachTransposedTerm(s, (yi, xi, wi) => (gradX[xi]! += gradY[yi]! * w[wi]!));
  return gradX;
}
