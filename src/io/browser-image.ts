import { GradlensError } from '../gpu/errors.ts';
import { preprocess, type ImageTensor, type PreprocessOptions, type RgbaImage } from './preprocess.ts';

/** What a page has an image as; a string is a URL, fetched (CORS applies: a tainted canvas cannot be read). */
export type BrowserImageSource = ImageBitmap | HTMLImageElement | HTMLCanvasElement | OffscreenCanvas | string;

/** An image as a model input, and its decoded pixels (for overlays). Same shape as the Node loader's result. */
export interface LoadedImage extends ImageTensor {
  image: RgbaImage;
}

/** The browser's `loadImage`: decodes with the browser, reads the pixels back, and preprocesses them. */
export async function loadImage(source: BrowserImageSource, options: PreprocessOptions): Promise<LoadedImage> {
  const image = await imagePixels(source);
  return { ...preprocess(image, options), image };
}

/**
 * RGBA8 pixels of an image as stored: decoded without colour-space conversion (createImageBitmap's option), so opaque
 * pixels match what PIL or pngjs give. Translucent ones pass through the canvas's premultiplied storage and may round.
 */
export async function imagePixels(source: BrowserImageSource): Promise<RgbaImage> {
  const name = typeof source === 'string' ? source : source.constructor.name;
  try {
    if (typeof source === 'string') return await imagePixels(await fetchBitmap(source));
    if (isCanvas(source)) return readCanvas(source);
    if (isImageElement(source) && !source.complete) await source.decode();
    const bitmap = isImageElement(source) ? await createImageBitmap(source, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' }) : source;
    const canvas = makeCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext('2d') as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
    if (!context) throw new Error('no 2d canvas context');
    context.drawImage(bitmap, 0, 0);
    return pixelsOf(context, bitmap.width, bitmap.height);
  } catch (error) {
    if (error instanceof GradlensError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new GradlensError('BAD_INPUT', `${name}: cannot read the image's pixels (${reason})`, { cause: error });
  }
}

async function fetchBitmap(url: string): Promise<ImageBitmap> {
  const response = await fetch(url);
  if (!response.ok) throw new GradlensError('BAD_INPUT', `${url}: HTTP ${response.status} ${response.statusText}`);
  return createImageBitmap(await response.blob(), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
}

function readCanvas(canvas: HTMLCanvasElement | OffscreenCanvas): RgbaImage {
  const context = canvas.getContext('2d') as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
  if (!context) throw new Error('the canvas has no 2d context (it was used for WebGL or WebGPU); pass an ImageBitmap of it');
  return pixelsOf(context, canvas.width, canvas.height);
}

function pixelsOf(context: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D, width: number, height: number): RgbaImage {
  if (width === 0 || height === 0) throw new Error('the image is empty (0 pixels wide or high)');
  return { width, height, data: context.getImageData(0, 0, width, height, { colorSpace: 'srgb' }).data };
}

function makeCanvas(width: number, height: number): HTMLCanvasElement | OffscreenCanvas {
  if (typeof OffscreenCanvas !== 'undefined') return new OffscreenCanvas(width, height);
  const canvas = document.createElement('canvas');
  [canvas.width, canvas.height] = [width, height];
  return canvas;
}

const isCanvas = (source: object): source is HTMLCanvasElement | OffscreenCanvas =>
  (typeof OffscreenCanvas !== 'undefined' && source instanceof OffscreenCanvas) ||
  (typeof HTMLCanvasElement !== 'undefined' && source instanceof HTMLCanvasElement);

const isImageElement = (source: object): source is HTMLImageElement => typeof HTMLImageElement !== 'undefined' && source instanceof HTMLImageElement;
