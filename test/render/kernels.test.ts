import { describe, expect, it } from 'vitest';
import { allocate, CommandBatch, readback, readFloats, upload, type GpuContext } from '../../src/gpu/index.ts';
import {
  percentileDispatches,
  reduceDispatch,
  REDUCTIONS,
  SELECTION_BYTES,
  selectionState,
  SIGNS,
  type Reduction,
  type RenderParams,
  type Sign,
} from '../../src/render/kernels.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { randomTensor } from '../reference/random.ts';

// The reduced value per pixel, in float64, from the definitions: reduction over channels first, then the sign.
function reduceReference(a: Float32Array, channels: number, pixels: number, layout: 'chw' | 'hwc', reduction: Reduction, sign: Sign): number[] {
  return Array.from({ length: pixels }, (_, p) => {
    const values = Array.from({ length: channels }, (_, c) => a[layout === 'chw' ? c * pixels + p : p * channels + c]!);
    let v: number;
    if (reduction === 'sum') v = values.reduce((s, x) => s + x, 0);
    else if (reduction === 'l1') v = values.reduce((s, x) => s + Math.abs(x), 0);
    else if (reduction === 'l2') v = Math.sqrt(values.reduce((s, x) => s + x * x, 0));
    else v = values.reduce((best, x) => (Math.abs(x) > Math.abs(best) ? x : best), 0);
    if (sign === 'abs') return Math.abs(v);
    if (sign === 'positive') return Math.max(v, 0);
    if (sign === 'negative') return Math.max(-v, 0);
    return v;
  });
}

// numpy.percentile(|values|, q) with its default 'linear' method: virtual index q/100·(n − 1) between order statistics.
function percentileReference(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values, Math.abs).sort();
  const position = (q / 100) * (sorted.length - 1);
  const k = Math.floor(position);
  const a = sorted[k]!;
  const b = sorted[Math.min(k + 1, sorted.length - 1)]!;
  return a + (position - k) * (b - a);
}

function params(pixels: number, channels: number, overrides: Partial<RenderParams> = {}): RenderParams {
  return {
    pixels,
    channels,
    layout: 'chw',
    reduction: 'sum',
    sign: 'abs',
    fraction: 0,
    signedRange: false,
    outPixels: pixels,
    overlay: false,
    opacity: 0.5,
    ...overrides,
  };
}

async function runReduce(context: GpuContext, attribution: Float32Array, p: RenderParams): Promise<{ reduced: Float32Array; nonFinite: number }> {
  const input = await upload(context.device, 'test attribution', attribution);
  const [reduced, selection] = await allocate(context.device, [
    { label: 'test reduced', size: 4 * p.pixels },
    { label: 'test selection', size: SELECTION_BYTES },
  ]);
  await new CommandBatch(context.device, 'test reduce')
    .add(await reduceDispatch(context, { attribution: input, reduced: reduced!, selection: selection! }, p))
    .submit();
  const result = {
    reduced: await readFloats(context.device, reduced!, p.pixels),
    nonFinite: new Uint32Array(await readback(context.device, selection!))[5]!,
  };
  for (const buffer of [input, reduced!, selection!]) buffer.destroy();
  return result;
}

/** Runs the four radix-select passes on a map and returns the selection's [lo, hi]. */
async function runPercentile(context: GpuContext, map: Float32Array, percentile: number, signedRange = false): Promise<[number, number]> {
  const state = selectionState(map.length, { percentile });
  const p = params(map.length, 1, { fraction: state.fraction, signedRange });
  const reduced = await upload(context.device, 'test map', map);
  const [histogram, selection] = await allocate(context.device, [
    { label: 'test histogram', size: 4 * 512 },
    { label: 'test selection', size: SELECTION_BYTES },
  ]);
  context.device.queue.writeBuffer(selection!, 0, state.bytes);
  await new CommandBatch(context.device, 'test select')
    .add(...(await percentileDispatches(context, { reduced, histogram: histogram!, selection: selection! }, p)))
    .submit();
  const [lo, hi] = new Float32Array(await readback(context.device, selection!), 24, 2);
  for (const buffer of [reduced, histogram!, selection!]) buffer.destroy();
  return [lo!, hi!];
}

// f32 sums of at most 5 terms of size ≤ 1: a few ulps of the largest partial sum.
const SUMS = { abs: 2e-6, rel: 2e-6 };

describe('render_reduce: channel reduction, then the sign', () => {
  const [channels, height, width] = [3, 7, 9];
  const pixels = height * width;
  const attribution = randomTensor(channels * pixels, 301, 1);

  it('every reduction and sign mode matches its definition, CHW', async () => {
    const context = await testContext();
    for (const reduction of REDUCTIONS) {
      for (const sign of SIGNS) {
        const { reduced } = await runReduce(context, attribution, params(pixels, channels, { reduction, sign }));
        expectAllClose(reduced, reduceReference(attribution, channels, pixels, 'chw', reduction, sign), SUMS, `${reduction}/${sign}`);
      }
    }
  });

  it('reads HWC with the channel as the fastest axis', async () => {
    const context = await testContext();
    for (const reduction of ['sum', 'max-abs'] as const) {
      const { reduced } = await runReduce(context, attribution, params(pixels, channels, { layout: 'hwc', reduction, sign: 'signed' }));
      expectAllClose(reduced, reduceReference(attribution, channels, pixels, 'hwc', reduction, 'signed'), SUMS, reduction);
    }
  });

  it('max-abs keeps the sign of the channel with the largest magnitude, and the first of a tie', async () => {
    // Pixel 0: channels (0.5, −2, 1) → −2; pixel 1: (3, −3, 0) → 3 (the first of the tie).
    const a = Float32Array.from([0.5, 3, -2, -3, 1, 0]);
    const { reduced } = await runReduce(await testContext(), a, params(2, 3, { reduction: 'max-abs', sign: 'signed' }));
    expect([...reduced]).toEqual([-2, 3]);
  });

  it('counts NaN and infinite elements', async () => {
    const a = randomTensor(2 * 10, 302);
    a[3] = Number.NaN;
    a[11] = Number.POSITIVE_INFINITY;
    a[12] = Number.NEGATIVE_INFINITY;
    expect((await runReduce(await testContext(), a, params(10, 2))).nonFinite).toBe(3);
  });
});

describe('render_histogram + render_select: an exact percentile of |map|', () => {
  it("matches numpy's linear percentile at 0, 50, 99, 99.9 and 100 on a map larger than one histogram grid", async () => {
    const context = await testContext();
    // 90 300 values (over 64 workgroups × 256, so each invocation loops), ties from rounding to 1/64, a third zeros.
    const map = randomTensor(300 * 301, 303, 4).map((v, i) => (i % 3 === 0 ? 0 : Math.round(v * 64) / 64));
    for (const q of [0, 50, 99, 99.9, 100]) {
      const [lo, hi] = await runPercentile(context, map, q);
      expect(lo).toBe(0);
      // The two order statistics are exact; only a + f·(b − a) is rounded to f32.
      expectAllClose([hi], [percentileReference(map, q)], { abs: 0, rel: 1e-6 }, `q = ${q}`);
    }
  });

  it('interpolates between neighbours (even n at the median) and handles negative values through |·|', async () => {
    const context = await testContext();
    const map = Float32Array.from([-4, 1, -2, 3, 0.5, -0.25]);
    // |map| sorted: 0.25 0.5 1 2 3 4; q = 50 → index 2.5 → 1.5; q = 90 → index 4.5 → 3.5.
    expect(await runPercentile(context, map, 50)).toEqual([0, 1.5]);
    expect(await runPercentile(context, map, 90)).toEqual([0, 3.5]);
  });

  it('gives [−s, s] for a signed range, and a single value as its own percentile', async () => {
    const context = await testContext();
    const map = randomTensor(1000, 304, 3);
    const s = await runPercentile(context, map, 95, true);
    expectAllClose(s, [-percentileReference(map, 95), percentileReference(map, 95)], { abs: 0, rel: 1e-6 });
    expect(await runPercentile(context, Float32Array.from([-7]), 99)).toEqual([0, 7]);
  });

  it('finds values that differ only in the lowest bits (every radix digit matters)', async () => {
    const context = await testContext();
    const base = 1.5;
    const bits = new Uint32Array(Float32Array.from([base]).buffer)[0]!;
    const map = new Float32Array(new Uint32Array(Array.from({ length: 257 }, (_, k) => bits + ((k * 37) % 257))).buffer);
    for (const q of [0, 25, 100]) expect((await runPercentile(context, map, q))[1]).toBe(Math.fround(percentileReference(map, q)));
  });
});
