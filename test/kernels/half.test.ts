import { describe, expect, it } from 'vitest';
import { readFloats } from '../../src/gpu/index.ts';
import { conv2dBackwardInput, conv2dForward, type Conv2dPath } from '../../src/kernels/conv2d.ts';
import { gemm, gemmBackwardA, type GemmForwardDims, type GemmKernel } from '../../src/kernels/gemm.ts';
import { halfWeights } from '../../src/kernels/half.ts';
import { expectAllClose } from '../helpers/close.ts';
import { halfContext, halfSpacing, halfToFloat } from '../helpers/half.ts';
import { read, runDispatches, uploadAll } from '../helpers/run.ts';
import * as convReference from '../reference/conv2d.ts';
import { gemmBackward, gemmForward, type GemmCase } from '../reference/gemm.ts';
import { randomTensor } from '../reference/random.ts';

// f16 weights (AdapterOptions.precision 'f16'): the gemm kernels' +f16 variant reads B from its f16 copy and widens each
// weight to f32, so its products and sums are the f32 kernel's on the rounded weights. Checked two ways: against the
// float64 reference on the weights as the copy holds them (read back: WGSL lets an adapter round either way), to f32
// accuracy; and against the f32 weights, where the rounding (≤ 2⁻¹¹ of each weight) is the whole error.
const { context, why } = await halfContext();

const F32_SUM = { abs: 1e-5, rel: 1e-5 };

/** The f16 copy of `weights` as the device holds it, widened to numbers. */
async function readHalfCopy(buffer: GPUBuffer, count: number): Promise<Float64Array> {
  const words = await readFloats(context!.device, buffer, Math.ceil(count / 2));
  const halves = new Uint16Array(words.buffer, words.byteOffset, count);
  return Float64Array.from(halves, halfToFloat);
}

function gemmCase(over: Partial<GemmCase>): GemmCase {
  const d: GemmCase = { m: 1, n: 1, k: 1, batch: 1, transA: false, transB: false, alpha: 1, aBatchStride: 0, bBatchStride: 0, beta: 1, relu: false };
  Object.assign(d, over);
  return { ...d, aBatchStride: d.m * d.k, bBatchStride: 0, biasShape: [d.n] };
}

/** Forward and A's gradient with B as f16 weights (broadcast over the batch, as a layer's are), and B's f16 copy. */
async function runHalf(d: GemmCase, kernel: GemmKernel, b: Float32Array) {
  const ctx = context!;
  const x = { a: randomTensor(d.batch * d.m * d.k, 1), b, bias: randomTensor(d.n, 3), gradC: randomTensor(d.batch * d.m * d.n, 4) };
  const io = await uploadAll(ctx, { ...x, c: new Float32Array(d.batch * d.m * d.n), gradA: new Float32Array(x.a.length) });
  const dims: GemmForwardDims = { ...d, activation: d.relu ? 'relu' : 'none', kernel, halfB: true };
  await runDispatches(ctx, 'f16 gemm test', [
    ...(await gemm(ctx, { a: io.a, b: io.b, bias: io.bias, c: io.c }, dims)),
    ...(await gemmBackwardA(ctx, { b: io.b, gradC: io.gradC, gradA: io.gradA }, dims)),
  ]);
  const half = await readHalfCopy((await halfWeights(ctx, io.b)).buffer, b.length);
  const [c, gradA] = await Promise.all([read(ctx, io.c, d.batch * d.m * d.n), read(ctx, io.gradA, x.a.length)]);
  for (const buffer of Object.values(io)) buffer.destroy();
  return { x, c, gradA, half };
}

const SHAPES: Partial<GemmCase>[] = [
  { m: 1, n: 1, k: 1 },
  { m: 5, n: 7, k: 37, batch: 2, relu: true },
  { m: 67, n: 66, k: 33, transB: true },
  { m: 8, n: 64, k: 784, transB: true }, // the digit CNN's fc1 at a chunk of 8
];

describe.skipIf(!context)(`f16 weights in gemm (${why || context?.report.description})`, () => {
  for (const kernel of ['tiled', 'direct'] as const) {
    it(`${kernel}: forward and input gradient equal the f32 product on the rounded weights`, async () => {
      for (const shape of SHAPES) {
        const d = gemmCase(shape);
        const weights = randomTensor(d.k * d.n, 2);
        const { x, c, gradA, half } = await runHalf(d, kernel, weights);
        const label = `${d.m}×${d.n}×${d.k} transB=${d.transB}`;
        // The copy: each weight rounded to one of its two nearest halves.
        for (let i = 0; i < weights.length; i++) expect(Math.abs(half[i]! - weights[i]!), label).toBeLessThanOrEqual(halfSpacing(weights[i]!));
        expectAllClose(c, gemmForward(d, x.a, half, x.bias), F32_SUM, `${label} forward`);
        expectAllClose(gradA, gemmBackward(d, x.a, half, x.gradC).gradA, F32_SUM, `${label} input gradient`);
        // Against the f32 weights: an error of the weights' rounding, ≤ 2⁻¹¹ Σ|a·b| per output and far from zero.
        const exact = gemmForward(d, x.a, weights, x.bias);
        const bound = (2 ** -11 * d.k + 1e-5) * 1; // |a|, |b| < 1
        let largest = 0;
        for (let i = 0; i < c.length; i++) largest = Math.max(largest, Math.abs(c[i]! - exact[i]!));
        expect(largest, label).toBeLessThanOrEqual(bound);
        // Beyond f32's error (F32_SUM): the product was taken on the rounded weights, not the f32 ones.
        if (d.k > 1) expect(largest, `${label}: the f16 weights were read`).toBeGreaterThan(F32_SUM.abs);
      }
    });
  }

  it('the +f16 variants exist for the weight-reading modules only', () => {
    expect(context!.kernels.halfVariant('gemm')).toBe('gemm+f16');
    expect(context!.kernels.halfVariant('conv2d')).toBe('conv2d+f16');
    expect(() => context!.kernels.halfVariant('softmax')).toThrow(expect.objectContaining({ code: 'UNKNOWN_KERNEL' }));
  });

  it('a weight beyond f16 range is copied as ±65504, and exact halves stay exact', async () => {
    const weights = Float32Array.from([1e6, -1e6, 65504, 0.5, -2, 0, 2 ** -13, 70000]); // 2⁻¹³: normal (subnormals may flush)
    const io = await uploadAll(context!, { weights });
    const copy = await halfWeights(context!, io.weights);
    await runDispatches(context!, 'f16 copy', [copy.fill]);
    expect([...(await readHalfCopy(copy.buffer, weights.length))]).toEqual([65504, -65504, 65504, 0.5, -2, 0, 2 ** -13, 65504]);
    io.weights.destroy();
  });

  // Every convolution path reads the f16 copy: 3×3 stride 1 (block, packed, implicit GEMM, direct), stride 2 (the
  // strided packed input gradient and the GEMM's phases), a 1×1 with K % 4 == 0 (the GEMM's vec4 weights).
  const conv = (s: Pick<convReference.ConvShape, 'inChannels' | 'outChannels' | 'kernelHeight' | 'kernelWidth'> & Partial<convReference.ConvShape>) =>
    ({ batch: 2, height: 9, width: 10, strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], group: 1, ...s }) as convReference.ConvShape;
  const CONVS: [string, convReference.ConvShape, Conv2dPath[], Conv2dPath[]][] = [
    [
      '3×3 6→8 stride 1',
      conv({ inChannels: 6, outChannels: 8, kernelHeight: 3, kernelWidth: 3, pads: [1, 1, 1, 1] }),
      ['implicit-gemm', 'direct', 'block', 'block8', 'ubo', 'ubo8'],
      ['implicit-gemm', 'direct', 'direct-s1', 'block', 'block8', 'ubo', 'ubo8'],
    ],
    [
      '3×3 4→5 stride 2',
      conv({ batch: 1, inChannels: 4, height: 11, width: 9, outChannels: 5, kernelHeight: 3, kernelWidth: 3, strides: [2, 2], pads: [1, 1, 1, 1] }),
      ['implicit-gemm', 'ubo'],
      ['implicit-gemm', 'direct', 'ubo'],
    ],
    [
      '1×1 8→12',
      conv({ inChannels: 8, height: 5, width: 6, outChannels: 12, kernelHeight: 1, kernelWidth: 1 }),
      ['implicit-gemm'],
      ['implicit-gemm'],
    ],
  ];

  for (const [name, shape, forwardPaths, backwardPaths] of CONVS) {
    it(`conv ${name}: each path's forward and input gradient equal the f32 convolution on the rounded weights`, async () => {
      const ctx = context!;
      const [outHeight, outWidth] = convReference.outputSize(shape);
      const weights = randomTensor(shape.outChannels * shape.inChannels * shape.kernelHeight * shape.kernelWidth, 2);
      const x = randomTensor(shape.batch * shape.inChannels * shape.height * shape.width, 1);
      const gradY = randomTensor(shape.batch * shape.outChannels * outHeight * outWidth, 4);
      const io = await uploadAll(ctx, { x, w: weights, gradY, y: new Float32Array(gradY.length), gradX: new Float32Array(x.length) });
      let half: Float64Array | undefined; // as the first convolution's prologue fills it
      for (const [direction, paths] of [
        ['forward', forwardPaths],
        ['input gradient', backwardPaths],
      ] as const) {
        for (const path of paths) {
          const dims = { ...shape, path, halfW: true };
          const dispatch =
            direction === 'forward'
              ? await conv2dForward(ctx, { x: io.x, w: io.w, y: io.y }, dims)
              : await conv2dBackwardInput(ctx, { gradY: io.gradY, w: io.w, gradX: io.gradX }, dims);
          await runDispatches(ctx, `f16 conv ${path}`, [dispatch]);
          half ??= await readHalfCopy((await halfWeights(ctx, io.w)).buffer, weights.length);
          const [output, expected, exact] =
            direction === 'forward'
              ? [await read(ctx, io.y, gradY.length), convReference.conv2d(shape, x, half), convReference.conv2d(shape, x, weights)]
              : [
                  await read(ctx, io.gradX, x.length),
                  convReference.conv2dBackwardInput(shape, gradY, half),
                  convReference.conv2dBackwardInput(shape, gradY, weights),
                ];
          expectAllClose(output, expected, F32_SUM, `${name} ${direction} ${path}`);
          const largest = output.reduce((m, v, i) => Math.max(m, Math.abs(v - exact[i]!)), 0);
          expect(largest, `${name} ${direction} ${path}: the f16 weights were read`).toBeGreaterThan(F32_SUM.abs);
        }
      }
      for (const buffer of Object.values(io)) buffer.destroy();
    });
  }
});
