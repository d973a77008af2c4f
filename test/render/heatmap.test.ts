import pngjs from 'pngjs';
import { describe, expect, it } from 'vitest';
import { upload, type GradlensError } from '../../src/gpu/index.ts';
import type { RgbaImage } from '../../src/io/preprocess.ts';
import { heatmapPng } from '../../src/node/heatmap.ts';
import { colormap, renderHeatmap, type ColormapName } from '../../src/render/index.ts';
import { testContext } from '../helpers/gpu.ts';
import { randomTensor } from '../reference/random.ts';

const { PNG } = pngjs;

const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.unreachable('should have thrown'),
    (error: GradlensError) => error,
  );

/** numpy.percentile(|values|, q), linear method. */
function percentile(values: readonly number[], q: number): number {
  const sorted = Float64Array.from(values, Math.abs).sort();
  const position = (q / 100) * (sorted.length - 1);
  const k = Math.floor(position);
  return sorted[k]! + (position - k) * (sorted[Math.min(k + 1, sorted.length - 1)]! - sorted[k]!);
}

/** Per-pixel Σ over channels of a CHW attribution. */
function channelSum(a: Float32Array, channels: number, pixels: number): number[] {
  return Array.from({ length: pixels }, (_, p) => Array.from({ length: channels }, (_, c) => a[c * pixels + p]!).reduce((s, x) => s + x, 0));
}

/**
 * Expects each pixel to have colormap(t) for t = clamp((v − lo)/(hi − lo), 0, 1). The GPU's v and t are f32 (and
 * WGSL division may be off by 2.5 ulp), so where 256·t lies within 1e-3 of a table boundary either neighbour is accepted.
 */
function expectColours(rgba: Uint8ClampedArray, values: readonly number[], [lo, hi]: readonly [number, number], name: ColormapName): void {
  let mismatches = 0;
  values.forEach((v, p) => {
    const t = Math.min(Math.max((v - lo) / (hi - lo), 0), 1);
    const position = t * 256;
    const candidates = [t];
    if (Math.abs(position - Math.round(position)) < 1e-3) candidates.push((Math.round(position) - 0.5) / 256, (Math.round(position) + 0.5) / 256);
    const got = [...rgba.subarray(4 * p, 4 * p + 4)];
    if (!candidates.some((c) => [...colormap(name, c), 255].every((byte, k) => byte === got[k]))) mismatches++;
  });
  expect(mismatches, `pixels whose colour is not colormap('${name}', t)`).toBe(0);
}

describe('renderHeatmap', () => {
  const [channels, height, width] = [3, 9, 11];
  const pixels = height * width;
  const attribution = randomTensor(channels * pixels, 401, 2);
  const sums = channelSum(attribution, channels, pixels);

  it('defaults: |Σ channels|, scaled to its 99th percentile and clipped, in viridis', async () => {
    const heatmap = await renderHeatmap(await testContext(), attribution, [channels, height, width]);
    const magnitude = sums.map(Math.abs);
    const s = percentile(magnitude, 99);
    expect(heatmap.width).toBe(width);
    expect(heatmap.height).toBe(height);
    expect(heatmap.range[0]).toBe(0);
    expect(heatmap.range[1]).toBeCloseTo(s, 5);
    expectColours(heatmap.rgba, magnitude, [0, s], 'viridis');
    // 1% of 99 pixels lie above the 99th percentile: they are clipped to the last colour.
    expect(magnitude.filter((v) => v >= s).length).toBeGreaterThan(0);
  });

  it('sign modes keep what they name, each scaled by its own percentile', async () => {
    const context = await testContext();
    const cases = {
      positive: sums.map((v) => Math.max(v, 0)),
      negative: sums.map((v) => Math.max(-v, 0)),
    } as const;
    for (const [sign, values] of Object.entries(cases) as [keyof typeof cases, number[]][]) {
      const heatmap = await renderHeatmap(context, attribution, [channels, height, width], { sign, percentile: 95, colormap: 'gray' });
      const s = percentile(values, 95);
      expect(heatmap.range[1], sign).toBeCloseTo(s, 5);
      expectColours(heatmap.rgba, values, [0, s], 'gray');
    }
  });

  it('signed maps span [−s, s] on the diverging colormap by default, zero in its middle', async () => {
    const heatmap = await renderHeatmap(await testContext(), attribution, [channels, height, width], { sign: 'signed', percentile: 100 });
    const s = Math.max(...sums.map(Math.abs));
    expect(heatmap.range[0]).toBeCloseTo(-s, 5);
    expect(heatmap.range[1]).toBeCloseTo(s, 5);
    expectColours(heatmap.rgba, sums, [-s, s], 'rdbu-r');
  });

  it('reductions reach the colours: l1 (PAIR grayscale) and max-abs (Simonyan) with no clipping', async () => {
    const context = await testContext();
    const l1 = Array.from({ length: pixels }, (_, p) => [0, 1, 2].reduce((sum, c) => sum + Math.abs(attribution[c * pixels + p]!), 0));
    const heatmap = await renderHeatmap(context, attribution, [1, channels, height, width], { reduction: 'l1', percentile: 100, colormap: 'gray' });
    expectColours(heatmap.rgba, l1, [0, Math.max(...l1)], 'gray');
    const maxAbs = Array.from({ length: pixels }, (_, p) => Math.max(...[0, 1, 2].map((c) => Math.abs(attribution[c * pixels + p]!))));
    const turbo = await renderHeatmap(context, attribution, [channels, height, width], { reduction: 'max-abs', percentile: 100, colormap: 'turbo' });
    expectColours(turbo.rgba, maxAbs, [0, Math.max(...maxAbs)], 'turbo');
  });

  it('without normalisation, raw values map through the given range (captum#1103), clipped at its ends', async () => {
    const context = await testContext();
    const heatmap = await renderHeatmap(context, attribution, [channels, height, width], { sign: 'signed', range: [-1.5, 2.5], colormap: 'gray' });
    expect(heatmap.range).toEqual([-1.5, 2.5]);
    expectColours(heatmap.rgba, sums, [-1.5, 2.5], 'gray');
    // normalize: false alone maps [0, 1] (signed: [−1, 1]) without any rescaling.
    const single = Float32Array.from([0, 0.25, 0.5, 1, 3, -1]);
    const raw = await renderHeatmap(context, single, [2, 3], { normalize: false, sign: 'positive', colormap: 'gray' });
    expect(raw.range).toEqual([0, 1]);
    expect([0, 1, 2, 3, 4, 5].map((p) => raw.rgba[4 * p]!)).toEqual([0, 64, 128, 255, 255, 0]);
  });

  it('takes HWC attributions and GPU buffers where the attribution already lives', async () => {
    const context = await testContext();
    const hwc = new Float32Array(attribution.length);
    for (let p = 0; p < pixels; p++) for (let c = 0; c < channels; c++) hwc[p * channels + c] = attribution[c * pixels + p]!;
    const expected = await renderHeatmap(context, attribution, [channels, height, width]);
    expect((await renderHeatmap(context, hwc, [height, width, channels], { layout: 'hwc' })).rgba).toEqual(expected.rgba);
    const buffer = await upload(context.device, 'test attribution', attribution);
    try {
      expect((await renderHeatmap(context, buffer, [channels, height, width])).rgba).toEqual(expected.rgba);
    } finally {
      buffer.destroy();
    }
  });

  it('a map with no signal renders as the colormap start, or its middle when signed', async () => {
    const context = await testContext();
    const zeros = new Float32Array(12);
    const plain = await renderHeatmap(context, zeros, [3, 4]);
    expect(plain.range).toEqual([0, 0]);
    expect([...plain.rgba.subarray(0, 4)]).toEqual([...colormap('viridis', 0), 255]);
    const signed = await renderHeatmap(context, zeros, [3, 4], { sign: 'signed' });
    expect([...signed.rgba.subarray(0, 4)]).toEqual([...colormap('rdbu-r', 0.5), 255]);
  });
});

describe('overlay', () => {
  /** Straight-alpha "heat over image": A = α + a_b(1 − α), C = (α·C_h + a_b(1 − α)·C_b)/A, each rounded to a byte. */
  function over(heat: readonly number[], base: readonly number[], alpha: number): number[] {
    const ab = base[3]! / 255;
    const coverage = alpha + ab * (1 - alpha);
    const rgb = [0, 1, 2].map((k) => Math.floor(0.5 + (255 * (alpha * (heat[k]! / 255) + ab * (1 - alpha) * (base[k]! / 255))) / coverage));
    return [...rgb, Math.floor(0.5 + 255 * coverage)];
  }

  function image(width: number, height: number, seed: number, opaque: boolean): RgbaImage {
    const noise = randomTensor(width * height * 4, seed, 0.5);
    const data = Uint8ClampedArray.from(noise, (v, i) => (opaque && i % 4 === 3 ? 255 : Math.floor((v + 0.5) * 256)));
    return { width, height, data };
  }

  it('blends the heat map over an image of the same size with the given opacity, opaque or translucent', async () => {
    const context = await testContext();
    const [height, width] = [6, 5];
    const attribution = randomTensor(height * width, 402);
    for (const [opaque, opacity] of [
      [true, 0.5],
      [false, 0.3],
    ] as const) {
      const overlay = image(width, height, 403, opaque);
      const options = { overlay, opacity, percentile: 100, colormap: 'turbo' as const };
      const alone = await renderHeatmap(context, attribution, [height, width], { ...options, overlay: undefined });
      const blended = await renderHeatmap(context, attribution, [height, width], options);
      let worst = 0;
      for (let p = 0; p < height * width; p++) {
        const expected = over([...alone.rgba.subarray(4 * p, 4 * p + 3)], [...overlay.data.subarray(4 * p, 4 * p + 4)], opacity);
        for (let k = 0; k < 4; k++) worst = Math.max(worst, Math.abs(blended.rgba[4 * p + k]! - expected[k]!));
      }
      // f32 arithmetic can move a value across a rounding boundary: one level at most.
      expect(worst, `opaque ${opaque}`).toBeLessThanOrEqual(1);
    }
  });

  it.each([
    [4, 5, 9, 13],
    [4, 6, 6, 4], // as many pixels, transposed: still resized
  ])(
    'resizes a %i×%i map to a %i×%i image bilinearly (half-pixel centres), with the range from the map itself',
    async (height, width, outHeight, outWidth) => {
      const context = await testContext();
      const attribution = randomTensor(height * width, 404);
      const overlay = image(outWidth, outHeight, 405, true);
      const heatmap = await renderHeatmap(context, attribution, [height, width], { overlay, opacity: 1, percentile: 90, colormap: 'gray' });
      const magnitude = Array.from(attribution, Math.abs);
      const s = percentile(magnitude, 90);
      expect([heatmap.width, heatmap.height]).toEqual([outWidth, outHeight]);
      expect(heatmap.range[1]).toBeCloseTo(s, 5);
      // torch interpolate(mode='bilinear', align_corners=False): source = (o + ½)·in/out − ½, clamped at 0.
      const taps = (o: number, inSize: number, outSize: number) => {
        const x = Math.max((o + 0.5) * (inSize / outSize) - 0.5, 0);
        const i = Math.min(Math.floor(x), inSize - 1);
        return { i, j: Math.min(i + 1, inSize - 1), f: x - i };
      };
      const resized: number[] = [];
      for (let y = 0; y < outHeight; y++) {
        for (let x = 0; x < outWidth; x++) {
          const [ty, tx] = [taps(y, height, outHeight), taps(x, width, outWidth)];
          const at = (r: number, c: number) => magnitude[r * width + c]!;
          const top = at(ty.i, tx.i) * (1 - tx.f) + at(ty.i, tx.j) * tx.f;
          const bottom = at(ty.j, tx.i) * (1 - tx.f) + at(ty.j, tx.j) * tx.f;
          resized.push(top * (1 - ty.f) + bottom * ty.f);
        }
      }
      // Opacity 1 over an opaque image is the heat map itself.
      expectColours(heatmap.rgba, resized, [0, s], 'gray');
    },
  );
});

describe('errors and PNG', () => {
  it('refuses NaN, mismatched shapes and contradictory options with what to do', async () => {
    const context = await testContext();
    const nan = randomTensor(12, 406);
    nan[5] = Number.NaN;
    expect((await rejection(renderHeatmap(context, nan, [3, 4]))).code).toBe('NAN_INPUT');
    expect((await rejection(renderHeatmap(context, new Float32Array(11), [3, 4]))).message).toMatch(/has 12 elements but the attribution has 11/);
    expect((await rejection(renderHeatmap(context, new Float32Array(12), [3, 2, 2], { reduction: 'none' }))).message).toMatch(
      /'none' needs one channel/,
    );
    expect((await rejection(renderHeatmap(context, new Float32Array(12), [3, 4], { normalize: true, range: [0, 1] }))).code).toBe('BAD_PARAMS');
    expect((await rejection(renderHeatmap(context, new Float32Array(12), [3, 4], { range: [1, 1] }))).message).toMatch(/low < high/);
    expect((await rejection(renderHeatmap(context, new Float32Array(12), [3, 4], { percentile: 101 }))).message).toMatch(/percentile/);
    const small = { width: 2, height: 2, data: new Uint8Array(15) };
    expect((await rejection(renderHeatmap(context, new Float32Array(12), [3, 4], { overlay: small }))).message).toMatch(/RGBA8/);
  });

  it('heatmapPng encodes the rendered pixels losslessly (decoded again with pngjs)', async () => {
    const context = await testContext();
    const attribution = randomTensor(3 * 7 * 5, 407);
    const options = { sign: 'signed', reduction: 'l2', percentile: 97 } as const;
    const rendered = await renderHeatmap(context, attribution, [3, 7, 5], options);
    const png = PNG.sync.read(Buffer.from(await heatmapPng(context, attribution, [3, 7, 5], options)));
    expect([png.width, png.height]).toEqual([5, 7]);
    expect(new Uint8Array(png.data)).toEqual(new Uint8Array(rendered.rgba));
  });
});
