import { GradlensError } from '../gpu/errors.ts';

/** Decoded pixels: 8-bit RGBA, row-major, 4 bytes a pixel (what canvas ImageData, pngjs and jpeg-js all give). */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8ClampedArray | Uint8Array;
}

/**
 * How the model's training pipeline turned an image into a tensor; each step in this order:
 * resize, colour (luma or channel order), ×scale, (v − mean) / std, layout. Alpha is ignored (pixels as stored).
 */
export interface PreprocessOptions {
  /** Output [height, width]; bilinear with half-pixel centres and no antialias, as ONNX Resize (linear, half_pixel)
   *  and torch `interpolate(mode='bilinear', align_corners=False)`. Default: the image's size. */
  size?: readonly [number, number];
  /** 1: grayscale by ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B); 3: colour. */
  channels: 1 | 3;
  /** Channel order when channels is 3: 'rgb' (default; PyTorch, Keras) or 'bgr' (OpenCV, Caffe). */
  order?: 'rgb' | 'bgr';
  /** Multiplies the 0-255 values; default 1/255 (values in [0, 1]). */
  scale?: number;
  /** Per channel, subtracted after scaling; e.g. ImageNet's [0.485, 0.456, 0.406]. */
  mean?: readonly number[];
  /** Per channel, divides after the mean; e.g. ImageNet's [0.229, 0.224, 0.225]. */
  std?: readonly number[];
  /** 'chw' (default; ONNX and PyTorch) or 'hwc' (TensorFlow). */
  layout?: 'chw' | 'hwc';
}

/** One image as a model input, without the batch axis: shape [c, h, w] or [h, w, c]. */
export interface ImageTensor {
  data: Float32Array;
  shape: [number, number, number];
}

// ITU-R BT.601 luma weights (Rec. 601, also PIL's convert('L') and OpenCV's COLOR_RGB2GRAY).
const LUMA = [0.299, 0.587, 0.114] as const;

export function preprocess(image: RgbaImage, options: PreprocessOptions): ImageTensor {
  checkImage(image);
  const { channels, order = 'rgb', scale = 1 / 255, layout = 'chw' } = options;
  checkOptions(options, channels, order, scale, layout);
  const [height, width] = options.size ?? [image.height, image.width];
  const mean = options.mean ?? new Array<number>(channels).fill(0);
  const std = options.std ?? new Array<number>(channels).fill(1);
  const sample = bilinearSampler(image, height, width);
  const source = channels === 1 ? null : order === 'rgb' ? [0, 1, 2] : [2, 1, 0];
  const data = new Float32Array(channels * height * width);
  const rgb = [0, 0, 0];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      sample(y, x, rgb);
      for (let c = 0; c < channels; c++) {
        const value = source ? rgb[source[c]!]! : LUMA[0] * rgb[0]! + LUMA[1] * rgb[1]! + LUMA[2] * rgb[2]!;
        const index = layout === 'chw' ? (c * height + y) * width + x : (y * width + x) * channels + c;
        data[index] = (value * scale - mean[c]!) / std[c]!;
      }
    }
  }
  return { data, shape: layout === 'chw' ? [channels, height, width] : [height, width, channels] };
}

/**
 * Reads R, G, B at output pixel (y, x): x_in = (x + ½)·in/out − ½, clamped to the edge (ONNX Resize half_pixel,
 * linear; torch's bilinear with align_corners=False). Same size: the pixel itself.
 */
function bilinearSampler(image: RgbaImage, outHeight: number, outWidth: number) {
  const { width, height, data } = image;
  const axis = (inSize: number, outSize: number) => {
    const low = new Int32Array(outSize);
    const high = new Int32Array(outSize);
    const weight = new Float64Array(outSize);
    for (let o = 0; o < outSize; o++) {
      const position = Math.min(Math.max((o + 0.5) * (inSize / outSize) - 0.5, 0), inSize - 1);
      low[o] = Math.floor(position);
      high[o] = Math.min(low[o]! + 1, inSize - 1);
      weight[o] = position - low[o]!;
    }
    return { low, high, weight };
  };
  const rows = axis(height, outHeight);
  const columns = axis(width, outWidth);
  return (y: number, x: number, rgb: number[]) => {
    const [y0, y1, wy] = [rows.low[y]!, rows.high[y]!, rows.weight[y]!];
    const [x0, x1, wx] = [columns.low[x]!, columns.high[x]!, columns.weight[x]!];
    for (let c = 0; c < 3; c++) {
      const at = (row: number, column: number) => data[(row * width + column) * 4 + c]!;
      const top = at(y0, x0) + (at(y0, x1) - at(y0, x0)) * wx;
      const bottom = at(y1, x0) + (at(y1, x1) - at(y1, x0)) * wx;
      rgb[c] = top + (bottom - top) * wy;
    }
  };
}

function bad(message: string): GradlensError {
  return new GradlensError('BAD_INPUT', `image preprocessing: ${message}`);
}

const positiveInteger = (n: unknown) => Number.isInteger(n) && (n as number) > 0;

function checkImage(image: RgbaImage): void {
  if (!positiveInteger(image.width) || !positiveInteger(image.height)) {
    throw bad(`width and height must be positive integers, got ${image.width}×${image.height}`);
  }
  if (image.data.length !== image.width * image.height * 4) {
    throw bad(`RGBA data of a ${image.width}×${image.height} image has ${image.width * image.height * 4} bytes, got ${image.data.length}`);
  }
}

function checkOptions(options: PreprocessOptions, channels: number, order: string, scale: number, layout: string): void {
  if (channels !== 1 && channels !== 3) throw bad(`channels must be 1 (grayscale) or 3 (colour), got ${channels}`);
  if (order !== 'rgb' && order !== 'bgr') throw bad(`order must be 'rgb' or 'bgr', got '${order}'`);
  if (channels === 1 && order === 'bgr') throw bad(`order 'bgr' needs channels: 3 (grayscale has one channel)`);
  if (layout !== 'chw' && layout !== 'hwc') throw bad(`layout must be 'chw' or 'hwc', got '${layout}'`);
  if (!Number.isFinite(scale) || scale <= 0) throw bad(`scale must be a finite positive number, got ${scale}`);
  if (options.size !== undefined && (options.size.length !== 2 || !options.size.every(positiveInteger))) {
    throw bad(`size must be [height, width], two positive integers, got [${options.size}]`);
  }
  for (const [name, values] of [
    ['mean', options.mean],
    ['std', options.std],
  ] as const) {
    if (values === undefined) continue;
    if (values.length !== channels) throw bad(`${name} needs one value per channel (${channels}), got ${values.length}`);
    if (!values.every(Number.isFinite)) throw bad(`${name} values must be finite, got [${values}]`);
  }
  if (options.std?.some((s) => s <= 0)) throw bad(`std values must be positive, got [${options.std}]`);
}
