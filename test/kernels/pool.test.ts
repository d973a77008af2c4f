import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/index.ts';
import {
  averagePoolBackward,
  averagePoolForward,
  globalAveragePoolBackward,
  globalAveragePoolForward,
  GLOBAL_POOL_REDUCE_FROM,
  maxPoolBackward,
  maxPoolForward,
  poolOutputSize,
  type GlobalPoolDims,
  type PoolDims,
} from '../../src/kernels/pool.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { read, runDispatches, uploadAll, zeros } from '../helpers/run.ts';
import { numericGradient } from '../reference/finite-difference.ts';
import * as ref from '../reference/pool.ts';
import { randomTensor } from '../reference/random.ts';

type Case = PoolDims & { name: string };

// Odd sizes, batch 1 and > 1, every attribute off its default somewhere.
const CASES: Case[] = [
  { name: 'k2 s2 on odd 5×7, batch 1', batch: 1, channels: 1, height: 5, width: 7, kernelShape: [2, 2], strides: [2, 2] },
  {
    name: 'k3 s2 pads 1 ceil, batch 2',
    batch: 2,
    channels: 3,
    height: 7,
    width: 5,
    kernelShape: [3, 3],
    strides: [2, 2],
    pads: [1, 1, 1, 1],
    ceilMode: true,
  },
  {
    name: 'ceil mode drops the window starting in the end padding',
    batch: 1,
    channels: 2,
    height: 5,
    width: 6,
    kernelShape: [2, 2],
    strides: [2, 2],
    pads: [1, 1, 1, 1],
    ceilMode: true,
  },
  { name: 'dilation 2, asymmetric pads', batch: 1, channels: 2, height: 9, width: 8, kernelShape: [3, 3], pads: [0, 1, 2, 1], dilations: [2, 2] },
  {
    name: 'rectangular kernel and strides, dilated width, ceil',
    batch: 2,
    channels: 1,
    height: 6,
    width: 11,
    kernelShape: [3, 2],
    strides: [2, 3],
    pads: [1, 0, 0, 1],
    dilations: [1, 2],
    ceilMode: true,
  },
  { name: 'stride beyond kernel leaves uncovered inputs', batch: 1, channels: 1, height: 7, width: 7, kernelShape: [2, 2], strides: [3, 3] },
  { name: 'window covers the whole input', batch: 3, channels: 2, height: 4, width: 5, kernelShape: [4, 5] },
  // Windows that tile the input exactly: the backward's one-invocation-per-window kernel.
  { name: 'k2 s2 tiling 6×8, batch 2', batch: 2, channels: 3, height: 6, width: 8, kernelShape: [2, 2], strides: [2, 2] },
  { name: 'k3×2 s3×2 tiling 9×4', batch: 1, channels: 2, height: 9, width: 4, kernelShape: [3, 2], strides: [3, 2] },
  { name: 'k4×5 s4×5: one window is the whole input', batch: 3, channels: 2, height: 4, width: 5, kernelShape: [4, 5], strides: [4, 5] },
];

const shapeOf = (c: PoolDims): ref.PoolShape => ({ batch: c.batch, channels: c.channels, height: c.height, width: c.width });
const windowOf = (c: PoolDims): ref.PoolWindow => ({
  kernelShape: [...c.kernelShape],
  strides: [...(c.strides ?? [1, 1])],
  pads: [...(c.pads ?? [0, 0, 0, 0])],
  dilations: [...(c.dilations ?? [1, 1])],
  ceilMode: c.ceilMode ?? false,
});
const inCount = (c: GlobalPoolDims) => c.batch * c.channels * c.height * c.width;
const outCount = (c: PoolDims) => c.batch * c.channels * poolOutputSize(c)[0] * poolOutputSize(c)[1];

// Selections and sums of at most 20 f32 terms of magnitude ≤ 1: a few ulps of the partial sums.
const SUMS = { abs: 2e-6, rel: 1e-6 };

async function runMaxPool(
  context: GpuContext,
  dims: PoolDims,
  x: Float32Array,
  gradY: Float32Array,
  gradX: Float32Array = new Float32Array(inCount(dims)),
  accumulate = false,
) {
  const b = {
    ...(await uploadAll(context, { x, gradY, gradX })),
    y: await zeros(context, 'y', outCount(dims)),
    argmax: await zeros(context, 'argmax', outCount(dims)),
  };
  await runDispatches(context, 'max pool', [await maxPoolForward(context, b, dims), await maxPoolBackward(context, b, { ...dims, accumulate })]);
  const result = {
    y: await read(context, b.y, outCount(dims)),
    argmax: new Uint32Array((await read(context, b.argmax, outCount(dims))).buffer),
    gradX: await read(context, b.gradX, inCount(dims)),
  };
  for (const buffer of Object.values(b)) buffer.destroy();
  return result;
}

async function runAveragePool(
  context: GpuContext,
  dims: PoolDims,
  countIncludePad: boolean,
  x: Float32Array,
  gradY: Float32Array,
  gradX: Float32Array = new Float32Array(inCount(dims)),
  accumulate = false,
) {
  const b = { ...(await uploadAll(context, { x, gradY, gradX })), y: await zeros(context, 'y', outCount(dims)) };
  const d = { ...dims, countIncludePad };
  await runDispatches(context, 'average pool', [
    await averagePoolForward(context, b, d),
    await averagePoolBackward(context, b, { ...d, accumulate }),
  ]);
  const result = { y: await read(context, b.y, outCount(dims)), gradX: await read(context, b.gradX, inCount(dims)) };
  for (const buffer of Object.values(b)) buffer.destroy();
  return result;
}

async function runGlobalAveragePool(
  context: GpuContext,
  dims: GlobalPoolDims,
  x: Float32Array,
  gradY: Float32Array,
  gradX: Float32Array = new Float32Array(inCount(dims)),
  accumulate = false,
) {
  const planes = dims.batch * dims.channels;
  const b = { ...(await uploadAll(context, { x, gradY, gradX })), y: await zeros(context, 'y', planes) };
  await runDispatches(context, 'global average pool', [
    await globalAveragePoolForward(context, b, dims),
    await globalAveragePoolBackward(context, b, { ...dims, accumulate }),
  ]);
  const result = { y: await read(context, b.y, planes), gradX: await read(context, b.gradX, x.length) };
  for (const buffer of Object.values(b)) buffer.destroy();
  return result;
}

describe('pool output size', () => {
  it('follows ONNX floor and ceil formulas, dropping a ceil-mode window that starts in the end padding', () => {
    expect(poolOutputSize({ batch: 1, channels: 1, height: 5, width: 7, kernelShape: [2, 2], strides: [2, 2] })).toEqual([2, 3]);
    expect(poolOutputSize({ batch: 1, channels: 1, height: 5, width: 7, kernelShape: [2, 2], strides: [2, 2], ceilMode: true })).toEqual([3, 4]);
    // (5 + 2 − 2) / 2 → ⌈2.5⌉ + 1 = 4, but window 3 would start at 6 − 1 = 5, past the input: 3 (PyTorch gives 3).
    expect(
      poolOutputSize({ batch: 1, channels: 1, height: 5, width: 5, kernelShape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], ceilMode: true }),
    ).toEqual([3, 3]);
  });
});

describe('max pool kernels against the float64 reference', () => {
  for (const c of CASES) {
    it(`forward and argmax: ${c.name}`, async () => {
      const x = randomTensor(inCount(c), 11);
      const { y, argmax } = await runMaxPool(await testContext(), c, x, new Float32Array(outCount(c)));
      const expected = ref.maxPool(x, shapeOf(c), windowOf(c));
      expect([...y]).toEqual([...expected.y]); // a selection: exact
      expect([...argmax]).toEqual([...expected.argmax]);
    });

    it(`backward: ${c.name}`, async () => {
      const x = randomTensor(inCount(c), 12);
      const gradY = randomTensor(outCount(c), 13);
      const { gradX } = await runMaxPool(await testContext(), c, x, gradY);
      expectAllClose(gradX, ref.maxPoolBackward(x, gradY, shapeOf(c), windowOf(c)), SUMS, c.name);
    });
  }

  it('ties go to the first maximal element in row-major window order', async () => {
    // A binary image, as MNIST's flat background and saturated strokes: most windows hold ties.
    const c: Case = {
      name: 'ties',
      batch: 2,
      channels: 1,
      height: 9,
      width: 8,
      kernelShape: [3, 3],
      strides: [2, 2],
      pads: [1, 1, 1, 1],
      ceilMode: true,
    };
    const x = Float32Array.from(randomTensor(inCount(c), 14), (v) => (v > 0.3 ? 1 : 0));
    const gradY = randomTensor(outCount(c), 15);
    const { argmax, gradX } = await runMaxPool(await testContext(), c, x, gradY);
    expect([...argmax]).toEqual([...ref.maxPool(x, shapeOf(c), windowOf(c)).argmax]);
    expectAllClose(gradX, ref.maxPoolBackward(x, gradY, shapeOf(c), windowOf(c)), SUMS, 'ties');
    // By hand: one 2×2 window over a flat plane picks element 0, over [[0, 1], [1, 1]] element 1.
    const one: PoolDims = { batch: 1, channels: 1, height: 2, width: 2, kernelShape: [2, 2] };
    const flat = await runMaxPool(await testContext(), one, new Float32Array([7, 7, 7, 7]), new Float32Array([1]));
    const stroke = await runMaxPool(await testContext(), one, new Float32Array([0, 1, 1, 1]), new Float32Array([1]));
    expect([...flat.argmax, ...flat.gradX]).toEqual([0, 1, 0, 0, 0]);
    expect([...stroke.argmax, ...stroke.gradX]).toEqual([1, 0, 1, 0, 0]);
  });

  it('padding never wins: an all-negative input pools to its own values', async () => {
    const c: Case = { name: 'negative', batch: 1, channels: 1, height: 3, width: 3, kernelShape: [3, 3], pads: [1, 1, 1, 1] };
    const x = Float32Array.from({ length: 9 }, (_, i) => -1 - i);
    const { y, argmax } = await runMaxPool(await testContext(), c, x, new Float32Array(9));
    expect([...y]).toEqual([-1, -1, -2, -1, -1, -2, -4, -4, -5]);
    expect([...argmax]).toEqual([0, 0, 1, 0, 0, 1, 3, 3, 4]);
  });

  it('a window wholly in the padding gives −∞ and takes no gradient', async () => {
    const c: Case = { name: 'pad-only', batch: 1, channels: 1, height: 2, width: 2, kernelShape: [1, 1], pads: [1, 0, 0, 0] };
    const { y, argmax, gradX } = await runMaxPool(await testContext(), c, new Float32Array([1, 2, 3, 4]), new Float32Array([5, 6, 7, 8, 9, 10]));
    expect([...y]).toEqual([-Infinity, -Infinity, 1, 2, 3, 4]);
    expect([...argmax]).toEqual([0xffffffff, 0xffffffff, 0, 1, 2, 3]);
    expect([...gradX]).toEqual([7, 8, 9, 10]);
  });

  for (const c of [CASES[1]!, CASES.find((k) => k.name.startsWith('k2 s2 tiling'))!]) {
    it(`backward with accumulate adds into the existing gradient: ${c.name}`, async () => {
      const x = randomTensor(inCount(c), 16);
      const gradY = randomTensor(outCount(c), 17);
      const initial = randomTensor(inCount(c), 18);
      const { gradX } = await runMaxPool(await testContext(), c, x, gradY, initial, true);
      const { gradX: alone } = await runMaxPool(await testContext(), c, x, gradY);
      expect([...gradX]).toEqual([...alone].map((v, i) => Math.fround(v + initial[i]!)));
    });
  }

  it('windows that tile the input take the per-window kernels, others the general ones', async () => {
    const context = await testContext();
    const io = {
      argmax: await zeros(context, 'argmax', 1024),
      gradY: await zeros(context, 'gradY', 1024),
      gradX: await zeros(context, 'gradX', 1024),
    };
    const name = async (c: Case) => {
      const forward = (await maxPoolForward(context, { x: io.gradY, y: io.gradX, argmax: io.argmax }, c)).bound.kernel.name;
      const backward = (await maxPoolBackward(context, io, c)).bound.kernel.name;
      expect(forward.replace('forward', 'backward'), c.name).toBe(backward);
      return backward;
    };
    expect(await name(CASES.find((k) => k.name.startsWith('k2 s2 tiling'))!)).toMatch(/pool_max_backward_tiled$/);
    expect(await name(CASES.find((k) => k.name.startsWith('k4×5 s4×5'))!)).toMatch(/pool_max_backward_tiled$/);
    for (const c of CASES.slice(0, 7)) expect(await name(c), c.name).toMatch(/pool_max_backward$/);
    Object.values(io).forEach((b) => b.destroy());
  });
});

describe('average pool kernels against the float64 reference', () => {
  for (const c of CASES) {
    for (const countIncludePad of [false, true]) {
      const name = `${c.name}, count_include_pad ${Number(countIncludePad)}`;
      it(`forward: ${name}`, async () => {
        const x = randomTensor(inCount(c), 21);
        const { y } = await runAveragePool(await testContext(), c, countIncludePad, x, new Float32Array(outCount(c)));
        expectAllClose(y, ref.averagePool(x, shapeOf(c), windowOf(c), countIncludePad), SUMS, name);
      });

      it(`backward: ${name}`, async () => {
        const gradY = randomTensor(outCount(c), 22);
        const { gradX } = await runAveragePool(await testContext(), c, countIncludePad, new Float32Array(inCount(c)), gradY);
        expectAllClose(gradX, ref.averagePoolBackward(gradY, shapeOf(c), windowOf(c), countIncludePad), SUMS, name);
      });
    }
  }

  it('count_include_pad divides by the taps inside the padded input, not the ceil-mode overhang (PyTorch)', async () => {
    // A 1×3 row, kernel 1×2, stride 2. Right pad 1: window 1 = {x2, pad}, divisor 2 (the pad counts).
    // No pad, ceil mode: window 1 = {x2, overhang past the input}, divisor 1.
    const row = { batch: 1, channels: 1, height: 1, width: 3, kernelShape: [1, 2] as [number, number], strides: [1, 2] as [number, number] };
    const x = new Float32Array([2, 4, 6]);
    const padded = await runAveragePool(await testContext(), { ...row, pads: [0, 0, 0, 1] }, true, x, new Float32Array(2));
    const overhang = await runAveragePool(await testContext(), { ...row, ceilMode: true }, true, x, new Float32Array(2));
    expect([...padded.y, ...overhang.y]).toEqual([3, 3, 3, 6]);
  });

  it('backward with accumulate adds into the existing gradient', async () => {
    const c = CASES[1]!;
    const gradY = randomTensor(outCount(c), 23);
    const initial = randomTensor(inCount(c), 24);
    const x = new Float32Array(inCount(c));
    const { gradX } = await runAveragePool(await testContext(), c, true, x, gradY, initial, true);
    const { gradX: alone } = await runAveragePool(await testContext(), c, true, x, gradY);
    expect([...gradX]).toEqual([...alone].map((v, i) => Math.fround(v + initial[i]!)));
  });
});

describe('global average pool kernels against the float64 reference', () => {
  const GLOBAL: (GlobalPoolDims & { name: string })[] = [
    { name: 'small planes, an invocation each', batch: 2, channels: 3, height: 3, width: 5 },
    { name: 'one pixel per plane', batch: 1, channels: 5, height: 1, width: 1 },
    { name: 'large planes, a workgroup reduction each', batch: 2, channels: 3, height: 17, width: 19 },
    { name: 'exactly the reduction threshold', batch: 1, channels: 2, height: 16, width: 16 },
  ];
  // Means of up to 323 f32 terms of magnitude ≤ 1: the sum's rounding (≤ n·ε·mean|x|) stays below 1e-5.
  const MEANS = { abs: 1e-5, rel: 1e-6 };

  it('the test grid exercises both forward paths', () => {
    expect(GLOBAL.some((g) => g.height * g.width < GLOBAL_POOL_REDUCE_FROM) && GLOBAL.some((g) => g.height * g.width > GLOBAL_POOL_REDUCE_FROM)).toBe(
      true,
    );
  });

  for (const g of GLOBAL) {
    it(`forward: ${g.name}`, async () => {
      const x = randomTensor(inCount(g), 31);
      const { y } = await runGlobalAveragePool(await testContext(), g, x, new Float32Array(g.batch * g.channels));
      expectAllClose(y, ref.globalAveragePool(x, g), MEANS, g.name);
    });

    it(`backward: ${g.name}`, async () => {
      const gradY = randomTensor(g.batch * g.channels, 32);
      const { gradX } = await runGlobalAveragePool(await testContext(), g, new Float32Array(inCount(g)), gradY);
      expectAllClose(gradX, ref.globalAveragePoolBackward(gradY, g), { abs: 1e-7, rel: 1e-6 }, g.name); // one division
    });
  }

  it('backward with accumulate adds into the existing gradient', async () => {
    const g = GLOBAL[0]!;
    const x = new Float32Array(inCount(g));
    const gradY = randomTensor(g.batch * g.channels, 33);
    const initial = randomTensor(x.length, 34);
    const { gradX } = await runGlobalAveragePool(await testContext(), g, x, gradY, initial, true);
    const { gradX: alone } = await runGlobalAveragePool(await testContext(), g, x, gradY);
    expect([...gradX]).toEqual([...alone].map((v, i) => Math.fround(v + initial[i]!)));
  });
});

describe('pool reference backward against central finite differences', () => {
  // Piecewise linear in x: central differences are exact up to rounding (~1e-11) away from max-pool ties,
  // and random inputs are ~1e-3 apart, far beyond h = 1e-5.
  const small = CASES.filter((c) => inCount(c) <= 200);
  for (const c of small) {
    it(`max pool: ${c.name}`, () => {
      const x = Array.from(randomTensor(inCount(c), 41));
      const seed = Array.from(randomTensor(outCount(c), 42));
      const numeric = numericGradient((z) => ref.maxPool(z, shapeOf(c), windowOf(c)).y, x, seed);
      expectAllClose(ref.maxPoolBackward(x, seed, shapeOf(c), windowOf(c)), numeric, { abs: 1e-8, rel: 0 }, c.name);
    });

    it(`average pool: ${c.name}`, () => {
      const x = Array.from(randomTensor(inCount(c), 43));
      const seed = Array.from(randomTensor(outCount(c), 44));
      for (const include of [false, true]) {
        const numeric = numericGradient((z) => ref.averagePool(z, shapeOf(c), windowOf(c), include), x, seed);
        expectAllClose(ref.averagePoolBackward(seed, shapeOf(c), windowOf(c), include), numeric, { abs: 1e-8, rel: 0 }, c.name);
      }
    });
  }

  it('global average pool', () => {
    const shape = { batch: 2, channels: 2, height: 3, width: 4 };
    const x = Array.from(randomTensor(48, 45));
    const seed = Array.from(randomTensor(4, 46));
    expectAllClose(
      ref.globalAveragePoolBackward(seed, shape),
      numericGradient((z) => ref.globalAveragePool(z, shape), x, seed),
      { abs: 1e-8, rel: 0 },
    );
  });
});
