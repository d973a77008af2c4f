import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/index.ts';
import { resizeBackward, resizeForward, type ResizeDims } from '../../src/kernels/resize.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { read, runDispatches, uploadAll, zeros } from '../helpers/run.ts';
import { numericGradient } from '../reference/finite-difference.ts';
import { randomTensor } from '../reference/random.ts';
import { COORDINATE_MODES, NEAREST_MODES, resize, resizeBackward as referenceBackward, type ResizeSpec } from '../reference/resize.ts';

type Shape = Pick<ResizeSpec, 'batch' | 'channels' | 'inHeight' | 'inWidth' | 'outHeight' | 'outWidth'>;

// Odd sizes, batch 1 and > 1: up- and downsampling, mixed, halfway ties, length-1 input and output axes.
const SHAPES: Shape[] = [
  { batch: 1, channels: 1, inHeight: 3, inWidth: 5, outHeight: 6, outWidth: 10 },
  { batch: 2, channels: 3, inHeight: 4, inWidth: 5, outHeight: 7, outWidth: 9 },
  { batch: 1, channels: 2, inHeight: 9, inWidth: 7, outHeight: 4, outWidth: 3 },
  { batch: 2, channels: 1, inHeight: 5, inWidth: 4, outHeight: 3, outWidth: 11 },
  { batch: 1, channels: 2, inHeight: 4, inWidth: 6, outHeight: 2, outWidth: 3 }, // half_pixel lands halfway everywhere
  { batch: 1, channels: 1, inHeight: 5, inWidth: 6, outHeight: 1, outWidth: 3 },
  { batch: 1, channels: 2, inHeight: 1, inWidth: 3, outHeight: 4, outWidth: 5 },
];

const CONFIGS: Pick<ResizeSpec, 'mode' | 'coordinateTransformationMode' | 'nearestMode'>[] = COORDINATE_MODES.flatMap(
  (coordinateTransformationMode) => [
    { mode: 'linear' as const, coordinateTransformationMode, nearestMode: 'round_prefer_floor' as const },
    ...NEAREST_MODES.map((nearestMode) => ({ mode: 'nearest' as const, coordinateTransformationMode, nearestMode })),
  ],
);

const inCount = (s: Shape) => s.batch * s.channels * s.inHeight * s.inWidth;
const outCount = (s: Shape) => s.batch * s.channels * s.outHeight * s.outWidth;
const nameOf = (s: ResizeSpec) => `${s.mode} ${s.coordinateTransformationMode}${s.mode === 'nearest' ? ` ${s.nearestMode}` : ''}`;

// Bilinear: three f32 lerps of values ≤ 1 with weights rounded once (a few ulps). Backward: up to ~30 weighted f32 terms.
const FORWARD = { abs: 1e-6, rel: 1e-6 };
const BACKWARD = { abs: 4e-6, rel: 1e-6 };

async function runResize(
  context: GpuContext,
  spec: ResizeSpec,
  x: ArrayLike<number>,
  gradY: ArrayLike<number>,
  gradX: ArrayLike<number> = new Float32Array(inCount(spec)),
  accumulate = false,
) {
  const b = { ...(await uploadAll(context, { x, gradY, gradX })), y: await zeros(context, 'y', outCount(spec)) };
  const dims: ResizeDims = spec;
  await runDispatches(context, 'resize', [await resizeForward(context, b, dims), await resizeBackward(context, b, { ...dims, accumulate })]);
  const result = { y: await read(context, b.y, outCount(spec)), gradX: await read(context, b.gradX, inCount(spec)) };
  for (const buffer of Object.values(b)) buffer.destroy();
  return result;
}

/** Hand-written expectations: ONNX's formulas evaluated by hand (most are also ONNX backend test cases). */
describe('resize by hand', () => {
  const spec = (s: Partial<ResizeSpec>): ResizeSpec => ({
    batch: 1,
    channels: 1,
    inHeight: 2,
    inWidth: 2,
    outHeight: 4,
    outWidth: 4,
    mode: 'linear',
    coordinateTransformationMode: 'half_pixel',
    nearestMode: 'round_prefer_floor',
    ...s,
  });
  const oneToSixteen = Array.from({ length: 16 }, (_, i) => i + 1);
  /** x = 1..16 on a 4×4 grid resized to 8×8 by nearest: output (r, c) = x[rows[r]][columns[c]]. */
  const gather = (rows: number[], columns: number[]) => rows.flatMap((r) => columns.map((c) => oneToSixteen[r * 4 + c]!));

  const cases: { name: string; spec: ResizeSpec; x: number[]; y: number[] }[] = [
    {
      // x_original = (o + ½)/2 − ½ = −¼, ¼, ¾, 1¼, clamped to [0, 1]: rows lerp 1→2 and 3→4 at 0, ¼, ¾, 1.
      name: 'bilinear half_pixel 2×2 → 4×4',
      spec: spec({}),
      x: [1, 2, 3, 4],
      y: [1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4],
    },
    {
      // x_original = o·(2 − 1)/(4 − 1) = 0, ⅓, ⅔, 1.
      name: 'bilinear align_corners 2×2 → 4×4',
      spec: spec({ coordinateTransformationMode: 'align_corners' }),
      x: [1, 2, 3, 4],
      y: [1, 4 / 3, 5 / 3, 2, 5 / 3, 2, 7 / 3, 8 / 3, 7 / 3, 8 / 3, 3, 10 / 3, 3, 10 / 3, 11 / 3, 4],
    },
    {
      // Rows: (o + ½)·4/3 − ½ = ⅙, 1½, 2⅚ on column 0 (1, 5, 9, 13); a length-1 width reads x_original 0.
      name: 'bilinear pytorch_half_pixel 4×4 → 3×1',
      spec: spec({ inHeight: 4, inWidth: 4, outHeight: 3, outWidth: 1, coordinateTransformationMode: 'pytorch_half_pixel' }),
      x: oneToSixteen,
      y: [1 + 4 / 6, 7, 9 + 4 * (5 / 6)],
    },
    {
      // Rows: (o + ½)·2/7 − ½; o = 3 is exactly ½, which round_prefer_floor sends to 0: four rows of 0, three of 1.
      // Columns: (o + ½)/4 − ½ = −⅜ … 1⅜: four of each.
      name: 'nearest half_pixel round_prefer_floor 2×2 → 7×8',
      spec: spec({ outHeight: 7, outWidth: 8, mode: 'nearest' }),
      x: [1, 2, 3, 4],
      y: [...Array(4).fill([1, 1, 1, 1, 2, 2, 2, 2]).flat(), ...Array(3).fill([3, 3, 3, 3, 4, 4, 4, 4]).flat()],
    },
    {
      // o/2 − ¼ = −¼, ¼, ¾, … 3¼, ceiling then clamped to 3.
      name: 'nearest half_pixel ceil 4×4 → 8×8',
      spec: spec({ inHeight: 4, inWidth: 4, outHeight: 8, outWidth: 8, mode: 'nearest', nearestMode: 'ceil' }),
      x: oneToSixteen,
      y: gather([0, 1, 1, 2, 2, 3, 3, 3], [0, 1, 1, 2, 2, 3, 3, 3]),
    },
    {
      // o·3/7 = 0, .43, .86, 1.29, 1.71, 2.14, 2.57, 3, floored.
      name: 'nearest align_corners floor 4×4 → 8×8',
      spec: spec({
        inHeight: 4,
        inWidth: 4,
        outHeight: 8,
        outWidth: 8,
        mode: 'nearest',
        nearestMode: 'floor',
        coordinateTransformationMode: 'align_corners',
      }),
      x: oneToSixteen,
      y: gather([0, 0, 0, 1, 1, 2, 2, 3], [0, 0, 0, 1, 1, 2, 2, 3]),
    },
    {
      // o/2 = 0, ½, 1, 1½, …: every other coordinate is a tie, rounded up, and 3½ → 4 is clamped to 3.
      name: 'nearest asymmetric round_prefer_ceil 4×4 → 8×8',
      spec: spec({
        inHeight: 4,
        inWidth: 4,
        outHeight: 8,
        outWidth: 8,
        mode: 'nearest',
        nearestMode: 'round_prefer_ceil',
        coordinateTransformationMode: 'asymmetric',
      }),
      x: oneToSixteen,
      y: gather([0, 1, 1, 2, 2, 3, 3, 3], [0, 1, 1, 2, 2, 3, 3, 3]),
    },
    {
      // The same ties rounded down.
      name: 'nearest asymmetric round_prefer_floor 4×4 → 8×8',
      spec: spec({ inHeight: 4, inWidth: 4, outHeight: 8, outWidth: 8, mode: 'nearest', coordinateTransformationMode: 'asymmetric' }),
      x: oneToSixteen,
      y: gather([0, 0, 1, 1, 2, 2, 3, 3], [0, 0, 1, 1, 2, 2, 3, 3]),
    },
  ];

  for (const c of cases) {
    it(`reference: ${c.name}`, () => {
      expectAllClose(resize(c.x, c.spec), c.y, { abs: 1e-12, rel: 0 }, c.name);
    });

    it(`kernel: ${c.name}`, async () => {
      const { y } = await runResize(await testContext(), c.spec, c.x, new Float32Array(outCount(c.spec)));
      expectAllClose(y, c.y, FORWARD, c.name);
    });
  }

  it('bilinear half_pixel backward sends an output gradient to its four taps by their weights', async () => {
    // Output (1, 2) reads x_original (¼, ¾): rows 0, 1 by ¾, ¼ and columns 0, 1 by ¼, ¾.
    const gradY = Array.from({ length: 16 }, (_, i) => (i === 1 * 4 + 2 ? 1 : 0));
    const expected = [0.75 * 0.25, 0.75 * 0.75, 0.25 * 0.25, 0.25 * 0.75];
    const { gradX } = await runResize(await testContext(), spec({}), [0, 0, 0, 0], gradY);
    expectAllClose(referenceBackward(gradY, spec({})), expected, { abs: 1e-12, rel: 0 }, 'reference');
    expectAllClose(gradX, expected, FORWARD, 'kernel');
  });
});

describe('resize kernels against the float64 reference', () => {
  for (const config of CONFIGS) {
    const exact = config.mode === 'nearest'; // nearest copies elements

    it(`forward: ${nameOf({ ...SHAPES[0]!, ...config })}`, async () => {
      for (const [k, shape] of SHAPES.entries()) {
        const s = { ...shape, ...config };
        const x = randomTensor(inCount(s), 50 + k);
        const { y } = await runResize(await testContext(), s, x, new Float32Array(outCount(s)));
        expectAllClose(y, resize(x, s), exact ? { abs: 0, rel: 0 } : FORWARD, `${JSON.stringify(shape)}`);
      }
    });

    it(`backward: ${nameOf({ ...SHAPES[0]!, ...config })}`, async () => {
      for (const [k, shape] of SHAPES.entries()) {
        const s = { ...shape, ...config };
        const gradY = randomTensor(outCount(s), 60 + k);
        const { gradX } = await runResize(await testContext(), s, new Float32Array(inCount(s)), gradY);
        expectAllClose(gradX, referenceBackward(gradY, s), BACKWARD, `${JSON.stringify(shape)}`);
      }
    });
  }

  it('backward with accumulate adds into the existing gradient', async () => {
    const s: ResizeSpec = { ...SHAPES[1]!, mode: 'linear', coordinateTransformationMode: 'half_pixel', nearestMode: 'round_prefer_floor' };
    const x = new Float32Array(inCount(s));
    const gradY = randomTensor(outCount(s), 70);
    const initial = randomTensor(inCount(s), 71);
    const { gradX } = await runResize(await testContext(), s, x, gradY, initial, true);
    const { gradX: alone } = await runResize(await testContext(), s, x, gradY);
    expect([...gradX]).toEqual([...alone].map((v, i) => Math.fround(v + initial[i]!)));
  });
});

describe('resize reference backward against central finite differences', () => {
  // Resize is linear in x, so central differences are exact up to rounding (~1e-11).
  for (const config of CONFIGS) {
    it(nameOf({ ...SHAPES[0]!, ...config }), () => {
      for (const [k, shape] of SHAPES.entries()) {
        const s = { ...shape, ...config };
        const x = Array.from(randomTensor(inCount(s), 80 + k));
        const seed = Array.from(randomTensor(outCount(s), 90 + k));
        expectAllClose(
          referenceBackward(seed, s),
          numericGradient((z) => resize(z, s), x, seed),
          { abs: 1e-8, rel: 0 },
          JSON.stringify(shape),
        );
      }
    });
  }
});
