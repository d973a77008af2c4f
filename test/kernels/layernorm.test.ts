import { describe, expect, it } from 'vitest';
import { gridFor } from '../../src/gpu/commands.ts';
import { layerNormBackward, layerNormDims, layerNormForward, layerNormRowThreads, type LayerNormDims } from '../../src/kernels/layernorm.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { read, runDispatches, uploadAll, zeros } from '../helpers/run.ts';
import { numericGradient } from '../reference/finite-difference.ts';
import { randomTensor } from '../reference/random.ts';
import * as reference from '../reference/layernorm.ts';
import { WORKGROUP_SIZE } from '../../src/kernels/wgsl.ts';

interface Case {
  name: string;
  shape: number[];
  axis: number;
  bias: boolean;
  rowThreads?: number;
  /** Added to every x: a mean far larger than the spread. */
  offset?: number;
  /** Every row constant: zero variance, so 1/σ = 1/√ε. */
  constant?: boolean;
}

const CASES: Case[] = [
  { name: 'one element per row (x̂ = 0)', shape: [3, 1], axis: -1, bias: true },
  { name: 'single row of 7', shape: [1, 7], axis: -1, bias: true },
  { name: 'no bias, 3 rows of 5', shape: [3, 5], axis: -1, bias: false },
  { name: 'two trailing axes (axis 1 of 2×3×5)', shape: [2, 3, 5], axis: 1, bias: true },
  { name: 'every axis (axis 0)', shape: [2, 3, 5], axis: 0, bias: false },
  { name: 'rows of 65, workgroup rows', shape: [3, 65], axis: -1, bias: true },
  { name: 'rows of 300', shape: [4, 300], axis: -1, bias: true },
  { name: 'rows of 300, one invocation per row', shape: [4, 300], axis: -1, bias: true, rowThreads: 1 },
  { name: `${WORKGROUP_SIZE} invocations on 33 elements`, shape: [5, 33], axis: -1, bias: false, rowThreads: WORKGROUP_SIZE },
  { name: 'mean 100 times the spread, 1000 per row', shape: [2, 1000], axis: -1, bias: true, offset: 100 },
  { name: 'constant rows', shape: [2, 16], axis: -1, bias: true, constant: true },
  { name: 'constant rows, workgroup rows', shape: [2, 200], axis: -1, bias: false, constant: true },
];

const EPSILON = 1e-5;
const shapeOf = (c: Case): reference.LayerNormShape => ({ ...layerNormDims(c.shape, c.axis), epsilon: EPSILON });
const dimsOf = (c: Case): LayerNormDims => ({ ...layerNormDims(c.shape, c.axis), epsilon: EPSILON, rowThreads: c.rowThreads });

function tensorsOf(c: Case, seed: number) {
  const { rows, size } = shapeOf(c);
  const x = randomTensor(rows * size, seed, 2).map((v, j) => (c.constant ? Math.floor(j / size) - 0.75 : v + (c.offset ?? 0)));
  const scale = randomTensor(size, seed + 1).map((v) => 1 + 0.5 * v);
  const bias = c.bias ? randomTensor(size, seed + 2) : undefined;
  return { x, scale, bias };
}

async function runForward(c: Case, t: ReturnType<typeof tensorsOf>) {
  const context = await testContext();
  const { rows, size } = shapeOf(c);
  const b = { ...(await uploadAll(context, { x: t.x, scale: t.scale })), bias: t.bias && (await uploadAll(context, { bias: t.bias })).bias };
  const out = {
    y: await zeros(context, 'y', rows * size),
    mean: await zeros(context, 'mean', rows),
    invStdDev: await zeros(context, 'inv_std_dev', rows),
  };
  await runDispatches(context, `layernorm ${c.name}`, [await layerNormForward(context, { ...b, ...out }, dimsOf(c))]);
  return {
    y: await read(context, out.y, rows * size),
    mean: await read(context, out.mean, rows),
    invStdDev: await read(context, out.invStdDev, rows),
  };
}

/** The backward's inputs: x, γ and the reference's row statistics rounded to f32, so it is tested apart from the forward kernel. */
function backwardInputs(c: Case, seed: number) {
  const t = tensorsOf(c, seed);
  const { mean, invStdDev } = reference.layerNormForward(t.x, t.scale, t.bias, shapeOf(c));
  return {
    x: t.x,
    scale: t.scale,
    mean: Float32Array.from(mean),
    invStdDev: Float32Array.from(invStdDev),
    gradY: randomTensor(t.x.length, seed + 3),
  };
}

async function runBackward(c: Case, inputs: ReturnType<typeof backwardInputs>, initial?: ArrayLike<number>): Promise<Float32Array> {
  const context = await testContext();
  const b = await uploadAll(context, { ...inputs, gradX: initial ?? new Float32Array(inputs.x.length) });
  await runDispatches(context, `layernorm backward ${c.name}`, [
    await layerNormBackward(context, b, { ...dimsOf(c), accumulate: initial !== undefined }),
  ]);
  return read(context, b.gradX, inputs.x.length);
}

const maxAbs = (values: ArrayLike<number>) => Array.from(values).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

// μ is rounded to f32 at the scale of |x|, so x − μ carries ~eps·max|x| of error, which x̂ = (x − μ)/σ magnifies by
// 1/σ: the kernel is good to a few eps times cond = max|x|·max(1/σ) (·max|γ| for y). A row sum of D terms adds ~√D eps.
const EPS = 2 ** -24;
const condition = (x: ArrayLike<number>, invStdDev: ArrayLike<number>) => Math.max(1, maxAbs(x) * maxAbs(invStdDev));

describe('layernorm kernels against the float64 reference', () => {
  for (const c of CASES) {
    it(`forward: ${c.name}`, async () => {
      const t = tensorsOf(c, 7);
      const expected = reference.layerNormForward(t.x, t.scale, t.bias, shapeOf(c));
      const actual = await runForward(c, t);
      const cond = condition(t.x, expected.invStdDev) * maxAbs(t.scale);
      expectAllClose(actual.y, expected.y, { abs: 64 * EPS * cond, rel: 0 }, 'y');
      expectAllClose(actual.mean, expected.mean, { abs: 64 * EPS * maxAbs(t.x), rel: 0 }, 'mean');
      expectAllClose(actual.invStdDev, expected.invStdDev, { abs: 0, rel: 64 * EPS }, 'inv_std_dev');
    });
  }

  for (const c of CASES) {
    it(`backward from the saved statistics: ${c.name}`, async () => {
      const inputs = backwardInputs(c, 7);
      const expected = reference.layerNormBackward(inputs.x, inputs.scale, inputs.mean, inputs.invStdDev, inputs.gradY, shapeOf(c));
      const actual = await runBackward(c, inputs);
      // dx = r·(…) with terms of size |γ|·|dy|·cond: the same conditioning as the forward, times 1/σ.
      const cond = condition(inputs.x, inputs.invStdDev) * maxAbs(inputs.scale) * maxAbs(inputs.invStdDev);
      expectAllClose(actual, expected, { abs: 64 * EPS * cond, rel: 0 }, c.name);
    });
  }

  it('backward with accumulate adds into the existing gradient', async () => {
    const c = CASES[6]!;
    const inputs = backwardInputs(c, 3);
    const initial = randomTensor(inputs.x.length, 9);
    const alone = await runBackward(c, inputs);
    const summed = await runBackward(c, inputs, initial);
    expect([...summed]).toEqual([...alone].map((v, i) => Math.fround(v + initial[i]!)));
  });

  // Past 65535 workgroups the row comes from the 2-D grid's width: a narrow grid takes the same path cheaply.
  for (const { rowThreads, rows, width } of [
    { rowThreads: 1, rows: 700, width: 2 },
    { rowThreads: WORKGROUP_SIZE, rows: 10, width: 3 },
  ]) {
    it(`indexes rows through a 2-D grid with ${rowThreads} invocation(s) per row`, async () => {
      const context = await testContext();
      const c: Case = { name: '2-D grid', shape: [rows, 3], axis: -1, bias: true, rowThreads };
      const t = tensorsOf(c, 5);
      const b = await uploadAll(context, { x: t.x, scale: t.scale, bias: t.bias! });
      const out = {
        y: await zeros(context, 'y', rows * 3),
        mean: await zeros(context, 'mean', rows),
        invStdDev: await zeros(context, 'inv_std_dev', rows),
      };
      const dispatch = await layerNormForward(context, { ...b, ...out }, dimsOf(c));
      const workgroups = gridFor(rows * rowThreads, WORKGROUP_SIZE, width);
      expect(workgroups[1]).toBeGreaterThan(1);
      await runDispatches(context, '2-D grid', [{ ...dispatch, workgroups }]);
      const expected = reference.layerNormForward(t.x, t.scale, t.bias, shapeOf(c));
      expectAllClose(await read(context, out.mean, rows), expected.mean, { abs: 64 * EPS * maxAbs(t.x), rel: 0 }, 'mean');
      const cond = condition(t.x, expected.invStdDev) * maxAbs(t.scale);
      expectAllClose(await read(context, out.y, rows * 3), expected.y, { abs: 64 * EPS * cond, rel: 0 }, 'y');
    });
  }
});

describe('layernorm shape helpers', () => {
  it('splits a shape at ONNX axis into rows and normalised size', () => {
    expect(layerNormDims([2, 3, 5])).toEqual({ rows: 6, size: 5 });
    expect(layerNormDims([2, 3, 5], 1)).toEqual({ rows: 2, size: 15 });
    expect(layerNormDims([2, 3, 5], -3)).toEqual({ rows: 1, size: 30 });
    expect(() => layerNormDims([2, 3], 2)).toThrow(/axis 2/);
  });

  it('gives short rows one invocation and long ones a power of two up to the workgroup size', () => {
    expect([1, 64, 65, 300, 1000, 4096].map(layerNormRowThreads)).toEqual([1, 1, 16, 64, 128, 256].map((n) => Math.min(n, WORKGROUP_SIZE)));
  });
});

describe('layernorm reference backward against central finite differences', () => {
  for (const c of [CASES[3]!, { ...CASES[1]!, bias: false }]) {
    it(c.name, () => {
      const t = tensorsOf(c, 13);
      const shape = shapeOf(c);
      const seed = randomTensor(t.x.length, 14);
      const numeric = numericGradient((z) => reference.layerNormForward(z, t.scale, t.bias, shape).y, t.x, seed);
      const { mean, invStdDev } = reference.layerNormForward(t.x, t.scale, t.bias, shape);
      // Central differences with h = 1e-5 on a function of order 1 with curvature ~1/σ²: ~1e-9 error.
      expectAllClose(reference.layerNormBackward(t.x, t.scale, mean, invStdDev, seed, shape), numeric, { abs: 1e-8, rel: 0 }, c.name);
    });
  }

  it('is zero for one element per row, where y = β does not depend on x', () => {
    const c = CASES[0]!;
    const t = tensorsOf(c, 15);
    const { mean, invStdDev } = reference.layerNormForward(t.x, t.scale, t.bias, shapeOf(c));
    const dx = reference.layerNormBackward(t.x, t.scale, mean, invStdDev, randomTensor(3, 16), shapeOf(c));
    expect(dx.every((v) => v === 0)).toBe(true);
  });
});

describe('group normalisation reference against central finite differences', () => {
  // Instance normalisation (4 groups of 1 channel) and 2 groups of 2 channels; smooth in x for ε > 0.
  for (const groups of [4, 2]) {
    it(`${groups} groups`, () => {
      const s = { shape: [2, 4, 5], groups, epsilon: 1e-3 };
      const x = randomTensor(40, 120 + groups);
      const gamma = randomTensor(4, 130);
      const beta = randomTensor(4, 131);
      const seed = randomTensor(40, 132);
      const numeric = numericGradient((z) => reference.groupNormForward(z, gamma, beta, s), x, seed);
      expectAllClose(reference.groupNormBackward(x, gamma, seed, s), numeric, { abs: 1e-7, rel: 1e-6 }, `${groups} groups`);
    });
  }
});
