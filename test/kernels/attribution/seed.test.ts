import { describe, expect, it } from 'vitest';
import { gridFor } from '../../../src/gpu/commands.ts';
import { readback, upload } from '../../../src/gpu/index.ts';
import { seedGradient, seedRowThreads, SEED_SCORES, type SeedDims, type SeedScore } from '../../../src/kernels/attribution/seed.ts';
import { expectAllClose } from '../../helpers/close.ts';
import { testContext } from '../../helpers/gpu.ts';
import { read, runDispatches, uploadAll, zeros } from '../../helpers/run.ts';
import { numericGradient } from '../../reference/finite-difference.ts';
import { randomTensor } from '../../reference/random.ts';
import * as reference from '../../reference/seed.ts';
import { WORKGROUP_SIZE } from '../../../src/kernels/wgsl.ts';

interface Case {
  name: string;
  n: number;
  k: number;
  rowThreads?: number;
}

const CASES: Case[] = [
  { name: 'one class', n: 2, k: 1 },
  { name: 'one sample, two classes', n: 1, k: 2 },
  { name: '3 samples, 10 classes', n: 3, k: 10 },
  { name: '65 classes, workgroup rows', n: 2, k: 65 },
  { name: '300 classes', n: 3, k: 300 },
  { name: '300 classes, one invocation per row', n: 3, k: 300, rowThreads: 1 },
  { name: '1000 classes (ImageNet)', n: 2, k: 1000 },
  { name: `${WORKGROUP_SIZE} invocations on 33 classes`, n: 5, k: 33, rowThreads: WORKGROUP_SIZE },
];

/** Alternating top-1 and explicit classes, the explicit ones spread over [0, k). */
const targetsOf = (c: Case) => Array.from({ length: c.n }, (_, n) => (n % 2 === 0 ? -1 : (n * 7919) % c.k));

interface SeedRun {
  gradLogits: Float32Array;
  resolved: Int32Array;
  score: Float32Array;
}

async function runSeed(
  c: Case,
  score: SeedScore,
  logits: Float32Array,
  targets: readonly number[],
  initial?: ArrayLike<number>,
  width?: number,
): Promise<SeedRun> {
  const context = await testContext();
  const { device } = context;
  const b = await uploadAll(context, { logits, gradLogits: initial ?? new Float32Array(logits.length) });
  const io = {
    ...b,
    target: await upload(device, 'target', Int32Array.from(targets)),
    resolvedTarget: await zeros(context, 'resolved', c.n),
    score: await zeros(context, 'score', c.n),
  };
  const dims: SeedDims = { n: c.n, k: c.k, score, rowThreads: c.rowThreads, accumulate: initial !== undefined };
  const dispatch = await seedGradient(context, io, dims);
  // `width` narrows the grid to take the 2-D path (needed past 65535 workgroups) at a small size.
  const workgroups = width ? gridFor(c.n * (c.rowThreads ?? seedRowThreads(c.k)), WORKGROUP_SIZE, width) : dispatch.workgroups;
  await runDispatches(context, `seed ${c.name}`, [{ ...dispatch, workgroups }]);
  return {
    gradLogits: await read(context, io.gradLogits, logits.length),
    resolved: new Int32Array(await readback(device, io.resolvedTarget, c.n * 4)),
    score: await read(context, io.score, c.n),
  };
}

// p = exp(x − m)/Σ: WGSL's exp is good to 3 + 2|x − m| ulp, under 30 ulp (4e-6) where p is not negligible; the f32
// row sum adds ~√K ulp. log p = (x − m) − log Σ: an ulp of |x − m| plus log's few ulp. The logit seed is exact.
const TOLERANCE: Record<SeedScore, { abs: number; rel: number }> = {
  logit: { abs: 0, rel: 0 },
  probability: { abs: 1e-7, rel: 1e-5 },
  'log-probability': { abs: 2e-6, rel: 2e-6 },
};

function expectSeed(actual: SeedRun, score: SeedScore, logits: Float32Array, targets: readonly number[], k: number, label: string): void {
  const expected = reference.seedGradient(score, logits, targets, k);
  expect([...actual.resolved], `${label} resolved target`).toEqual(expected.resolved);
  expectAllClose(actual.score, expected.scores, TOLERANCE[score], `${label} score`);
  expectAllClose(actual.gradLogits, expected.gradient, TOLERANCE[score], `${label} gradient`);
}

describe('seed kernel against the float64 reference', () => {
  for (const score of SEED_SCORES) {
    for (const c of CASES) {
      it(`${score}: ${c.name}`, async () => {
        const logits = randomTensor(c.n * c.k, 41, 3);
        const targets = targetsOf(c);
        expectSeed(await runSeed(c, score, logits, targets), score, logits, targets, c.k, `${score} ${c.name}`);
      });
    }
  }

  it('keeps large logits finite (the row maximum is subtracted)', async () => {
    const c: Case = { name: 'large', n: 2, k: 100 };
    const logits = randomTensor(200, 43, 3).map((v) => v + 200); // exp(200) overflows f32
    for (const score of ['probability', 'log-probability'] as const) {
      expectSeed(await runSeed(c, score, logits, [-1, 17]), score, logits, [-1, 17], c.k, score);
    }
  });

  for (const rowThreads of [1, 64]) {
    it(`top-1 takes the first maximum on ties (${rowThreads} invocation(s) per row)`, async () => {
      const k = 300;
      const rows = [
        { ties: [250, 7, 100], first: 7 }, // maxima in different lanes when 64 share the row
        { ties: [71, 7], first: 7 }, // in the same lane (71 = 7 + 64)
        { ties: Array.from({ length: k }, (_, j) => j), first: 0 }, // a constant row
        { ties: [299], first: 299 },
      ];
      const logits = randomTensor(rows.length * k, 44).map((v, j) => (rows[Math.floor(j / k)]!.ties.includes(j % k) ? 2 : v));
      const c: Case = { name: 'ties', n: rows.length, k, rowThreads };
      const run = await runSeed(
        c,
        'log-probability',
        logits,
        rows.map(() => -1),
      );
      expect([...run.resolved]).toEqual(rows.map((r) => r.first));
      expect([...run.resolved]).toEqual(rows.map((_, n) => reference.resolveTarget(logits.subarray(n * k, (n + 1) * k), -1)));
    });
  }

  it('marks a target outside [−1, k) with −1, score 0 and a zero gradient', async () => {
    const c: Case = { name: 'invalid', n: 3, k: 10 };
    const run = await runSeed(c, 'probability', randomTensor(30, 45), [10, -2, 3]);
    expect([...run.resolved]).toEqual([-1, -1, 3]);
    expect([...run.score.subarray(0, 2)]).toEqual([0, 0]);
    expect([...run.gradLogits.subarray(0, 20)].every((v) => v === 0)).toBe(true);
  });

  it('with accumulate adds into the existing gradient', async () => {
    const c = CASES[4]!;
    const logits = randomTensor(c.n * c.k, 46, 3);
    const initial = randomTensor(logits.length, 47);
    const alone = await runSeed(c, 'probability', logits, targetsOf(c));
    const summed = await runSeed(c, 'probability', logits, targetsOf(c), initial);
    expect([...summed.gradLogits]).toEqual([...alone.gradLogits].map((v, i) => Math.fround(v + initial[i]!)));
  });

  for (const { rowThreads, n, width } of [
    { rowThreads: 1, n: 700, width: 2 },
    { rowThreads: WORKGROUP_SIZE, n: 10, width: 3 },
  ]) {
    it(`indexes samples through a 2-D grid with ${rowThreads} invocation(s) per row`, async () => {
      const c: Case = { name: '2-D grid', n, k: 5, rowThreads };
      const logits = randomTensor(n * 5, 48, 3);
      const targets = targetsOf(c);
      expectSeed(await runSeed(c, 'log-probability', logits, targets, undefined, width), 'log-probability', logits, targets, 5, '2-D grid');
    });
  }

  it('gives up to 64 classes one invocation per row and more a power of two up to the workgroup size', () => {
    expect([1, 64, 65, 300, 1000, 5000].map(seedRowThreads)).toEqual([1, 1, 16, 64, 128, 256].map((n) => Math.min(n, WORKGROUP_SIZE)));
  });
});

describe('seed reference gradient against central finite differences of the score', () => {
  for (const score of SEED_SCORES) {
    it(score, () => {
      const k = 6;
      const logits = Float64Array.from(randomTensor(3 * k, 51, 2));
      const targets = [-1, 4, 0];
      // L = Σ_n score_n: the seed of ones over samples. With top-1 the argmax is locally constant away from ties.
      const numeric = numericGradient((z) => reference.seedScores(score, z, targets, k), logits, [1, 1, 1]);
      // Central differences with h = 1e-5 on smooth functions of order 1: ~1e-9 error.
      expectAllClose(reference.seedGradient(score, logits, targets, k).gradient, numeric, { abs: 1e-8, rel: 0 }, score);
    });
  }
});
