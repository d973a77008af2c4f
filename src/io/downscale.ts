import type { RgbaImage } from './preprocess.ts';

/**
 * The image shrunk to fit `maxSide` on its longer side, each output pixel the mean of the input pixels it covers
 * (area averaging: no aliasing, unlike sampling); an image already small enough is returned as it is.
 */
export function fitWithin(image: RgbaImage, maxSide: number): RgbaImage {
  const factor = Math.max(image.width, image.height) / maxSide;
  if (factor <= 1) return image;
  const width = Math.max(1, Math.round(image.width / factor));
  const height = Math.max(1, Math.round(image.height / factor));
  const sums = new Float64Array(width * height * 4);
  const counts = new Float64Array(width * height);
  for (let y = 0; y < image.height; y++) {
    const row = Math.min(height - 1, Math.floor((y * height) / image.height)) * width;
    for (let x = 0; x < image.width; x++) {
      const out = row + Math.min(width - 1, Math.floor((x * width) / image.width));
      const from = (y * image.width + x) * 4;
      for (let c = 0; c < 4; c++) sums[out * 4 + c]! += image.data[from + c]!;
      counts[out]!++;
    }
  }
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(sums[i]! / counts[i >> 2]!);
  return { width, height, data };
}
