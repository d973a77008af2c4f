import { describe, expect, it } from 'vitest';
import {
  gemm,
  gemmBackwardA,
  gemmBackwardB,
  gemmDims,
  matmulDims,
  type GemmForwardDims,
  type GemmKernel,
  type GemmTile,
} from '../../src/kernels/gemm.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { read, runDispatches, uploadAll, zeros } from '../helpers/run.ts';
import { numericGradient } from '../reference/finite-difference.ts';
import { gemmBackward, gemmForward, operandSize, type GemmCase } from '../reference/gemm.ts';
import { randomTensor } from '../reference/random.ts';

// Inputs in [-1, 1), at most ~200 products per output: f32 rounding of such a dot product stays near
// √K·2⁻²⁴ ≈ 1e-6 (worst case K·2⁻²⁴·Σ|ab| ≈ 1e-4 is never approached), while one wrong term is ~0.1–1.
const F32_SUM = { abs: 1e-5, rel: 1e-5 };

const base: GemmCase = {
  m: 1,
  n: 1,
  k: 1,
  batch: 1,
  transA: false,
  transB: false,
  alpha: 1,
  aBatchStride: -1,
  bBatchStride: -1,
  beta: 1,
  relu: false,
};

/** A case with natural batch strides unless given (-1 means "the matrix size"). */
function gemmCase(over: Partial<GemmCase>): GemmCase {
  const d = { ...base, ...over };
  return { ...d, aBatchStride: d.aBatchStride < 0 ? d.m * d.k : d.aBatchStride, bBatchStride: d.bBatchStride < 0 ? d.k * d.n : d.bBatchStride };
}

function inputs(d: GemmCase, seed = 1) {
  const biasCount = d.biasShape ? d.biasShape.reduce((p, s) => p * s, 1) : 1;
  return {
    a: randomTensor(operandSize(d.m, d.k, d.aBatchStride, d.batch), seed),
    b: randomTensor(operandSize(d.k, d.n, d.bBatchStride, d.batch), seed + 1),
    bias: randomTensor(biasCount, seed + 2),
    gradC: randomTensor(d.batch * d.m * d.n, seed + 3),
  };
}

interface Initial {
  c?: Float32Array;
  gradA?: Float32Array;
  gradB?: Float32Array;
}

/** Forward, gradient of A and gradient of B of one case, in one submit; `initial` turns on accumulate. */
async function runGemm(d: GemmCase, x = inputs(d), options: { tile?: Partial<GemmTile>; kernel?: GemmKernel; initial?: Initial } = {}) {
  const context = await testContext();
  const { initial } = options;
  const sizes = { c: d.batch * d.m * d.n, gradA: x.a.length, gradB: x.b.length };
  const io = await uploadAll(context, {
    ...x,
    c: initial?.c ?? new Float32Array(sizes.c),
    gradA: initial?.gradA ?? new Float32Array(sizes.gradA),
    gradB: initial?.gradB ?? new Float32Array(sizes.gradB),
  });
  const dims: GemmForwardDims = {
    ...d,
    activation: d.relu ? 'relu' : 'none',
    accumulate: initial !== undefined,
    ...(options.tile && { tile: options.tile }),
    // gemm_tiled unless told: the untuned default differs by adapter (gemm_direct on llvmpipe), and both are tested on both.
    ...(!options.tile && { kernel: options.kernel ?? 'tiled' }),
  };
  await runDispatches(context, 'gemm test', [
    ...(await gemm(context, { a: io.a, b: io.b, c: io.c, ...(d.biasShape && { bias: io.bias }) }, dims)),
    ...(await gemmBackwardA(context, { b: io.b, gradC: io.gradC, gradA: io.gradA }, dims)),
    ...(await gemmBackwardB(context, { a: io.a, gradC: io.gradC, gradB: io.gradB }, dims)),
  ]);
  const [c, gradA, gradB] = await Promise.all([
    read(context, io.c, sizes.c),
    read(context, io.gradA, sizes.gradA),
    read(context, io.gradB, sizes.gradB),
  ]);
  for (const buffer of Object.values(io)) buffer.destroy();
  return { c, gradA, gradB };
}

const TRANSPOSES = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

// Odd sizes on both sides of the 64×64 output tile and of the K step (8 for these small products, src/kernels/gemm.ts's
// tileKFor; 16 in 'other tile shapes'); batch 1 and >1; broadcast A or B.
const SHAPES: Partial<GemmCase>[] = [
  { m: 1, n: 1, k: 1 },
  { m: 5, n: 7, k: 3, batch: 2 },
  { m: 67, n: 66, k: 33 },
  { m: 3, n: 130, k: 20, batch: 3, aBatchStride: 0 },
  { m: 70, n: 2, k: 17, batch: 2, bBatchStride: 0 },
  { m: 9, n: 11, k: 5, batch: 2, aBatchStride: 0, bBatchStride: 0 },
];

const label = (d: GemmCase) => `${d.batch}×${d.m}×${d.n}×${d.k} transA=${d.transA} transB=${d.transB} strides ${d.aBatchStride},${d.bBatchStride}`;

describe('gemm forward against the float64 reference', () => {
  for (const [transA, transB] of TRANSPOSES) {
    it(`transA=${transA} transB=${transB} over odd sizes, batches and broadcast operands`, async () => {
      for (const shape of SHAPES) {
        const d = gemmCase({ ...shape, transA, transB });
        const x = inputs(d);
        const { c } = await runGemm(d, x);
        expectAllClose(c, gemmForward(d, x.a, x.b), F32_SUM, label(d));
      }
    });
  }

  for (const biasShape of [[], [1], [70], [1, 70], [6, 1], [6, 70], [1, 1], [2, 1, 70]]) {
    it(`bias of shape [${biasShape}] broadcasts to [batch, M, N]`, async () => {
      const d = gemmCase({ m: 6, n: 70, k: 5, batch: 2, biasShape, beta: 1 });
      const x = inputs(d);
      expectAllClose((await runGemm(d, x)).c, gemmForward(d, x.a, x.b, x.bias), F32_SUM);
    });
  }

  it('alpha scales the product and beta the bias', async () => {
    const d = gemmCase({ m: 13, n: 9, k: 21, alpha: -0.75, beta: 2.5, biasShape: [13, 9], transB: true });
    const x = inputs(d);
    expectAllClose((await runGemm(d, x)).c, gemmForward(d, x.a, x.b, x.bias), F32_SUM);
  });

  it('fused relu applies after the bias', async () => {
    const d = gemmCase({ m: 20, n: 33, k: 7, batch: 2, biasShape: [33], relu: true });
    const x = inputs(d);
    const { c } = await runGemm(d, x);
    expectAllClose(c, gemmForward(d, x.a, x.b, x.bias), F32_SUM);
    expect(Math.min(...c)).toBe(0); // some outputs were negative before the relu
  });

  it('K = 0 gives beta times the broadcast bias', async () => {
    const d = gemmCase({ m: 4, n: 5, k: 0, biasShape: [5], beta: 0.5 });
    const x = inputs(d);
    expectAllClose((await runGemm(d, x)).c, gemmForward(d, x.a, x.b, x.bias), F32_SUM);
  });

  it('an empty product (M = 0) records no dispatch', async () => {
    const context = await testContext();
    const io = await uploadAll(context, { a: [0], b: [0], c: [0] });
    expect(await gemm(context, io, { m: 0, n: 3, k: 2 })).toEqual([]);
    for (const buffer of Object.values(io)) buffer.destroy();
  });

  it('other tile shapes give the same result', async () => {
    const d = gemmCase({ m: 37, n: 29, k: 41, batch: 2, transA: true, biasShape: [37, 1] });
    const x = inputs(d);
    const expected = gemmForward(d, x.a, x.b, x.bias);
    for (const tile of [
      { workgroupX: 4, workgroupY: 8, tileK: 8 },
      { workgroupX: 8, workgroupY: 8, tileK: 16 }, // large products' default
      { workgroupX: 16, workgroupY: 4, tileK: 16 },
      { workgroupX: 1, workgroupY: 3, tileK: 5 },
    ]) {
      expectAllClose((await runGemm(d, x, { tile })).c, expected, F32_SUM, JSON.stringify(tile));
    }
  });

  it('a batch of more than 65535 row tiles spreads over a 2-D grid', async () => {
    const d = gemmCase({ m: 2, n: 3, k: 2, batch: 70000 });
    const x = inputs(d);
    const { c } = await runGemm(d, x, { tile: { workgroupX: 1, workgroupY: 1, tileK: 2 } });
    expectAllClose(c, gemmForward(d, x.a, x.b), F32_SUM);
  });
});

describe('gemm input gradients against the float64 reference', () => {
  for (const [transA, transB] of TRANSPOSES) {
    it(`transA=${transA} transB=${transB}: gradients of A and B over odd sizes and batches`, async () => {
      for (const shape of SHAPES) {
        const d = gemmCase({ ...shape, transA, transB, alpha: 1.5 });
        const x = inputs(d);
        const { gradA, gradB } = await runGemm(d, x);
        const expected = gemmBackward(d, x.a, x.b, x.gradC);
        expectAllClose(gradA, expected.gradA, F32_SUM, `gradA ${label(d)}`);
        expectAllClose(gradB, expected.gradB, F32_SUM, `gradB ${label(d)}`);
      }
    });
  }

  it('an operand broadcast over the batch gets the sum of every batch gradient', async () => {
    const d = gemmCase({ m: 10, n: 12, k: 6, batch: 4, aBatchStride: 0, transA: true });
    const x = inputs(d);
    const { gradA } = await runGemm(d, x);
    const perBatch = gemmBackward({ ...d, aBatchStride: d.m * d.k }, Array.from({ length: 4 }, () => [...x.a]).flat(), x.b, x.gradC).gradA;
    const summed = x.a.map((_, i) => [0, 1, 2, 3].reduce((s, z) => s + perBatch[z * x.a.length + i]!, 0));
    expectAllClose(gradA, summed, F32_SUM);
  });

  it('a ReLU-fused forward does not change the gradients (the graph applies the ReLU backward)', async () => {
    const d = gemmCase({ m: 8, n: 9, k: 10, relu: true, biasShape: [9] });
    const x = inputs(d);
    const { gradA, gradB } = await runGemm(d, x);
    const expected = gemmBackward(d, x.a, x.b, x.gradC);
    expectAllClose(gradA, expected.gradA, F32_SUM);
    expectAllClose(gradB, expected.gradB, F32_SUM);
  });
});

describe('gemm_direct (no workgroup memory; an autotune candidate) against the float64 reference', () => {
  for (const [transA, transB] of TRANSPOSES) {
    it(`transA=${transA} transB=${transB}: forward and both gradients over odd sizes, batches and broadcast operands`, async () => {
      for (const shape of [...SHAPES, { m: 4, n: 8, k: 4 }, { m: 6, n: 5, k: 9, batch: 70 }]) {
        const d = gemmCase({ ...shape, transA, transB, alpha: 1.25 });
        const x = inputs(d);
        const { c, gradA, gradB } = await runGemm(d, x, { kernel: 'direct' });
        const expected = gemmBackward(d, x.a, x.b, x.gradC);
        expectAllClose(c, gemmForward(d, x.a, x.b), F32_SUM, `c ${label(d)}`);
        expectAllClose(gradA, expected.gradA, F32_SUM, `gradA ${label(d)}`);
        expectAllClose(gradB, expected.gradB, F32_SUM, `gradB ${label(d)}`);
      }
    });
  }

  it('adds the bias, applies the relu and accumulates like gemm_tiled', async () => {
    const d = gemmCase({ m: 7, n: 66, k: 19, batch: 2, bBatchStride: 0, biasShape: [66], relu: true, transB: true });
    const x = inputs(d);
    const initial = { c: randomTensor(d.batch * d.m * d.n, 11), gradA: randomTensor(x.a.length, 12), gradB: randomTensor(x.b.length, 13) };
    const result = await runGemm(d, x, { kernel: 'direct', initial });
    const expected = gemmBackward(d, x.a, x.b, x.gradC);
    expectAllClose(result.c, gemmForward(d, x.a, x.b, x.bias, initial.c), F32_SUM, 'c');
    expectAllClose(
      result.gradB,
      expected.gradB.map((v, i) => v + initial.gradB[i]!),
      F32_SUM,
      'gradB',
    );
  });
});

describe('gemm accumulate flag', () => {
  it('adds the forward output and both gradients into the existing values', async () => {
    const d = gemmCase({ m: 7, n: 66, k: 19, batch: 2, bBatchStride: 0, biasShape: [66], relu: true, transB: true });
    const x = inputs(d);
    const initial = { c: randomTensor(d.batch * d.m * d.n, 11), gradA: randomTensor(x.a.length, 12), gradB: randomTensor(x.b.length, 13) };
    const result = await runGemm(d, x, { initial });
    const expected = gemmBackward(d, x.a, x.b, x.gradC);
    expectAllClose(result.c, gemmForward(d, x.a, x.b, x.bias, initial.c), F32_SUM, 'c');
    expectAllClose(
      result.gradA,
      expected.gradA.map((v, i) => v + initial.gradA[i]!),
      F32_SUM,
      'gradA',
    );
    expectAllClose(
      result.gradB,
      expected.gradB.map((v, i) => v + initial.gradB[i]!),
      F32_SUM,
      'gradB',
    );
  });
});

describe('gemm reference backward against central finite differences', () => {
  // The forward is bilinear, so central differences are exact up to rounding: ~1e-16·|L|/h ≈ 1e-10.
  const FD = { abs: 1e-8, rel: 1e-8 };
  const cases = [
    ...TRANSPOSES.map(([transA, transB]) => ({ m: 3, n: 4, k: 5, batch: 2, transA, transB, alpha: 0.7, biasShape: [4] })),
    { m: 2, n: 3, k: 4, batch: 3, aBatchStride: 0 },
    { m: 3, n: 2, k: 3, batch: 2, bBatchStride: 0, transB: true },
  ];
  for (const shape of cases) {
    const d = gemmCase(shape);
    it(label(d), () => {
      const x = inputs(d, 5);
      const { gradA, gradB } = gemmBackward(d, x.a, x.b, x.gradC);
      expectAllClose(
        gradA,
        numericGradient((a) => gemmForward(d, a, x.b, x.bias), x.a, x.gradC),
        FD,
        'gradA',
      );
      expectAllClose(
        gradB,
        numericGradient((b) => gemmForward(d, x.a, b, x.bias), x.b, x.gradC),
        FD,
        'gradB',
      );
    });
  }
});

describe('gemm shape helpers', () => {
  it('gemmDims reads M, N and K through the transposes', () => {
    expect(gemmDims([5, 3], [4, 5], true, true)).toEqual({ m: 3, n: 4, k: 5, transA: true, transB: true, outputShape: [3, 4] });
  });

  it('matmulDims broadcasts a 2-D operand over the batch with stride 0', () => {
    expect(matmulDims([2, 3, 4, 5], [5, 6])).toEqual({
      m: 4,
      n: 6,
      k: 5,
      batch: 6,
      aBatchStride: 20,
      bBatchStride: 0,
      cBatchStride: 24,
      outputShape: [2, 3, 4, 6],
    });
    expect(matmulDims([5], [2, 5, 6]).outputShape).toEqual([2, 6]);
    expect(matmulDims([1, 4, 5], [5, 3]).outputShape).toEqual([1, 4, 3]);
  });

  it('matmulDims refuses batch patterns one stride cannot express', () => {
    expect(() => matmulDims([2, 1, 4, 5], [1, 3, 5, 6])).toThrow(/not supported/);
    expect(() => matmulDims([2, 4, 5], [3, 5, 6])).toThrow(/do not broadcast/);
  });
});
