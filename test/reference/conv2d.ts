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
                visit(yIndex, ((n * s.inChannels + ci) * s.height + ih) * s.width + iw, ((co * inPerGroup + c) * s.kernelHeight + kh) * s.kernelWidth + kw);
              }
            }
          }
        }
      }
    }
  }
}

export function conv2d(s: ConvShape, x: ArrayLike<number>, w: ArrayLike<number>, bias?: ArrayLike<number>, activation: 'none' | 'relu' = 'none'): Float64Array {
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
