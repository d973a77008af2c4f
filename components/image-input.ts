import { GradlensError } from '../src/index.ts';
import { imagePixels } from '../src/io/browser-image.ts';
import { preprocess, type PreprocessOptions, type RgbaImage } from '../src/io/preprocess.ts';

/** What an explainer takes as its input: an image (URL, bitmap, element, canvas) or a ready tensor. */
export type ImageInput = string | ImageBitmap | HTMLImageElement | HTMLCanvasElement | OffscreenCanvas;

export interface PreparedInput {
  tensor: Float32Array;
  /** The pixels to draw the map over; absent for a tensor input. */
  image?: RgbaImage;
}

/**
 * The model's input from an image: size and channels read off the model's [C, H, W] input shape, the rest
 * (scale, mean, std, order) from `options` (default: values / 255).
 */
export async function prepareImage(
  source: ImageInput,
  inputShape: readonly number[],
  options: Partial<PreprocessOptions> = {},
): Promise<PreparedInput> {
  const [channels, height, width] = imageShape(inputShape);
  const image = await imagePixels(source);
  const { data } = preprocess(image, { ...options, channels, size: [height, width] });
  return { tensor: data, image };
}

/** A tensor given directly: checked against the model's input size. */
export function prepareTensor(tensor: Float32Array, inputShape: readonly number[]): PreparedInput {
  const size = inputShape.reduce((a, b) => a * b, 1);
  if (tensor.length !== size)
    throw new GradlensError('BAD_INPUT', `the tensor has ${tensor.length} values; the model takes [${inputShape.join(', ')}] = ${size}`);
  return { tensor };
}

function imageShape(shape: readonly number[]): [1 | 3, number, number] {
  const [channels, height, width] = shape;
  if (shape.length !== 3 || (channels !== 1 && channels !== 3)) {
    throw new GradlensError('BAD_INPUT', `this model takes [${shape.join(', ')}], not an image ([1 or 3, height, width]); give a tensor instead`);
  }
  return [channels, height!, width!];
}
