import { readFile } from 'node:fs/promises';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { GradlensError } from '../gpu/errors.ts';
import { preprocess, type ImageTensor, type PreprocessOptions, type RgbaImage } from '../io/preprocess.ts';

// pngjs is CommonJS: its named export is read off the default import.
const { PNG } = pngjs;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_SOI = [0xff, 0xd8, 0xff];

/** An image file as a model input, and its decoded pixels (for overlays). */
export interface LoadedImage extends ImageTensor {
  image: RgbaImage;
}

/** Reads a PNG or JPEG (a path, or its bytes) and preprocesses it as the model was trained. */
export async function loadImage(source: string | Uint8Array, options: PreprocessOptions): Promise<LoadedImage> {
  const name = typeof source === 'string' ? source : 'image bytes';
  let bytes: Uint8Array;
  try {
    bytes = typeof source === 'string' ? await readFile(source) : source;
  } catch (error) {
    throw new GradlensError('BAD_INPUT', `cannot read image file ${name}: ${(error as Error).message}`, { cause: error });
  }
  const image = decodeImage(bytes, name);
  return { ...preprocess(image, options), image };
}

/**
 * PNG (any bit depth, palette, grayscale or alpha; 16-bit is rounded to 8) or baseline/progressive JPEG to RGBA8,
 * told apart by their magic bytes, not the file name.
 */
export function decodeImage(bytes: Uint8Array, name = 'image bytes'): RgbaImage {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const format = startsWith(bytes, PNG_SIGNATURE) ? 'PNG' : startsWith(bytes, JPEG_SOI) ? 'JPEG' : undefined;
  if (!format) throw new GradlensError('BAD_INPUT', `${name}: not a PNG or JPEG file (the only image formats gradlens reads); convert it to PNG`);
  const size = format === 'PNG' ? pngSize(bytes) : jpegSize(bytes);
  if (size && size.width * size.height > MAX_IMAGE_PIXELS) {
    const megapixels = (n: number) => (n / 1e6).toFixed(1);
    throw new GradlensError(
      'BAD_INPUT',
      `${name}: ${size.width}×${size.height} = ${megapixels(size.width * size.height)} megapixels, above gradlens's limit of ` +
        `${megapixels(MAX_IMAGE_PIXELS)} (its pixels alone would take ${Math.round((size.width * size.height * 4) / 2 ** 20)} MiB); ` +
        'downscale it first',
    );
  }
  try {
    if (format === 'PNG') {
      const png = PNG.sync.read(buffer);
      return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
    }
    const decoded = jpeg.decode(buffer, { useTArray: true, formatAsRGBA: true });
    return { width: decoded.width, height: decoded.height, data: decoded.data };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new GradlensError('BAD_INPUT', `${name}: corrupt or unsupported ${format} file (${reason})`, { cause: error });
  }
}

/** RGBA8 pixels to PNG bytes (8-bit RGBA, no metadata). */
export function encodePng(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0 || rgba.length !== width * height * 4) {
    throw new GradlensError('BAD_INPUT', `encodePng: ${width}×${height} RGBA needs ${width * height * 4} bytes, got ${rgba.length}`);
  }
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  const encoded = PNG.sync.write(png);
  return new Uint8Array(encoded.buffer, encoded.byteOffset, encoded.byteLength);
}

/** Pixels one image may have (8K UHD fits): decoding is refused above it, so a batch of huge files cannot exhaust memory. */
export const MAX_IMAGE_PIXELS = 2 ** 25;

/** Width and height from the IHDR chunk, which the PNG standard puts first. */
function pngSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  if (bytes.length < 24) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** Width and height from the first start-of-frame marker (SOF0…SOF15 but DHT, JPG and DAC), read before any decoding. */
function jpegSize(bytes: Uint8Array): { width: number; height: number } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 2; at + 9 < bytes.length;) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1]!;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: view.getUint16(at + 5), width: view.getUint16(at + 7) };
    }
    at += 2 + view.getUint16(at + 2);
  }
  return undefined;
}

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  return bytes.length >= magic.length && magic.every((byte, i) => bytes[i] === byte);
}
