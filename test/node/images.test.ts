import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/device.ts';
import { fitWithin } from '../../src/io/downscale.ts';
import { preprocess } from '../../src/io/preprocess.ts';
import { attributionBars } from '../../src/node/bar-chart.ts';
import { writeOutputs } from '../../src/node/explain-outputs.ts';
import { decodeImage, encodePng } from '../../src/node/image.ts';
import { loadInput, OVERLAY_SIDE } from '../../src/node/inputs.ts';

/** A PNG that is only its signature and an IHDR chunk claiming a size: enough to be refused before any decoding. */
function pngHeader(width: number, height: number): Uint8Array {
  const bytes = new Uint8Array(33);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  const view = new DataView(bytes.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  bytes.set([8, 6, 0, 0, 0], 24);
  return bytes;
}

/** A JPEG's start: SOI, an APP0 segment to skip, then SOF0 with the claimed size. */
function jpegHeader(width: number, height: number): Uint8Array {
  const app0 = [0xff, 0xe0, 0, 4, 0, 0];
  const sof0 = [0xff, 0xc0, 0, 11, 8, height >> 8, height & 255, width >> 8, width & 255, 1, 1, 0x11, 0];
  return Uint8Array.from([0xff, 0xd8, ...app0, ...sof0]);
}

describe('image pixel cap', () => {
  it('refuses an 8000×8000 PNG before decoding it, saying its size and the limit', () => {
    expect(() => decodeImage(pngHeader(8000, 8000), 'huge.png')).toThrow(/huge\.png: 8000×8000 = 64\.0 megapixels, above gradlens's limit of 33\.6/);
  });

  it('refuses a 9000×9000 JPEG the same way, its size read from the frame header', () => {
    expect(() => decodeImage(jpegHeader(9000, 9000), 'huge.jpg')).toThrow(/huge\.jpg: 9000×9000 = 81\.0 megapixels/);
  });

  it('still decodes an image under the cap', () => {
    const png = encodePng(new Uint8Array(5 * 3 * 4).fill(200), 5, 3);
    expect(decodeImage(png)).toMatchObject({ width: 5, height: 3 });
  });
});

describe('display copies of images', () => {
  it('shrinks by area averaging: each output pixel the mean of the pixels it covers', () => {
    // 4×2 → 2×1: output pixel 0 covers x 0..1 of both rows, pixel 1 covers x 2..3.
    const data = Uint8Array.from([0, 4, 8, 12, 0, 0, 0, 0, 100, 0, 0, 0, 200, 0, 0, 0, 2, 4, 8, 12, 4, 0, 0, 0, 40, 0, 0, 0, 60, 0, 0, 0]);
    const small = fitWithin({ width: 4, height: 2, data }, 2);
    expect([small.width, small.height]).toEqual([2, 1]);
    expect(Array.from(small.data)).toEqual([Math.round(6 / 4), 2, 4, 6, 100, 0, 0, 0]);
  });

  it('explains a large image from all its pixels but keeps only a copy at most OVERLAY_SIDE wide for the overlay', async () => {
    const [width, height] = [2400, 1800];
    const rgba = new Uint8Array(width * height * 4).map((_, i) => (i * 7) % 251);
    const dir = await mkdtemp(join(tmpdir(), 'gradlens-images-'));
    const path = join(dir, 'large.png');
    await writeFile(path, encodePng(rgba, width, height));
    const options = { channels: 1 as const, size: [28, 28] as const };
    const loaded = await loadInput({ id: 'large.png', path, kind: 'image' }, [1, 28, 28], options);
    expect(Array.from(loaded.data)).toEqual(Array.from(preprocess({ width, height, data: rgba }, options).data));
    expect([loaded.image!.width, loaded.image!.height]).toEqual([OVERLAY_SIDE, 768]);
  });
});

describe('tabular pictures', () => {
  it('draws a labelled bar per feature, negative bars left of the zero line, labels escaped', () => {
    const svg = attributionBars(Float32Array.of(0.5, -0.25, 0), ['age', 'income <$>', 'x'], 'saliency for class 1');
    expect(svg.match(/<rect x/g)).toHaveLength(3);
    for (const label of ['age', 'income &#60;$&#62;', 'x', 'saliency for class 1']) expect(svg).toContain(`>${label}<`);
    const bars = [...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    const zero = Number(/<line x1="([\d.]+)"/.exec(svg)![1]);
    expect(bars[0]![0]).toBe(zero);
    expect(bars[1]![0] + bars[1]![1]).toBeCloseTo(zero, 1);
    expect(bars[0]![1]).toBeCloseTo(2 * bars[1]![1], 1);
  });

  it('writes a tabular input’s picture as that chart (.svg), not a 480×16 strip', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'gradlens-bars-'));
    const job = {
      outDir,
      id: 'data.csv#1',
      attribution: Float32Array.of(1, -2),
      shape: [2],
      formats: new Set(['png' as const]),
      heatmap: {},
      layout: 'chw' as const,
    };
    const files = await writeOutputs({} as GpuContext, { ...job, features: ['height', 'weight'], title: 'saliency for class 0' }, () => ({
      input: 'data.csv#1',
      status: 'ok',
    }));
    expect(Object.keys(files)).toEqual(['svg']);
    const svg = await readFile(join(outDir, files.svg!), 'utf8');
    expect(svg).toContain('>height<');
    expect(svg).toContain('>weight<');
  });
});
