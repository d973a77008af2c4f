import { describe, expect, it } from 'vitest';
import { gridFor } from '../../src/gpu/commands.ts';
import { softmaxBackward, softmaxDims, softmaxForward, softmaxRowThreads, type SoftmaxDims, type SoftmaxOp } from '../../src/kernels/softmax.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { read, runDispatches, uploadAll, zeros } from '../helpers/run.ts';
import { numericGradient } from '../reference/finite-difference.ts';
import { randomTensor } from '../reference/random.ts';
import * as reference from '../reference/softmax.ts';
import { WORKGROUP_SIZE } from '../../src/kernels/wgsl.ts';

const OPS: SoftmaxOp[] = ['softmax', 'log-softmax'];

interface Case {
  name: string;
  outer: number;
  axisSize: number;
  inner: number;
  rowThreads?: number;
  /** Logits around +95 (a naive exp overflows f32) with every fifth entry masked to −1e30. */
  large?: boolean;
}

const CASES: Case[] = [
  { name: 'axis of one element', outer: 3, axisSize: 1, inner: 2 },
  { name: 'single row of 7', outer: 1, axisSize: 7, inner: 1 },
  { name: 'last axis, 3 rows of 10', outer: 3, axisSize: 10, inner: 1 },
  { name: 'middle axis (inner 3)', outer: 2, axisSize: 5, inner: 3 },
  { name: 'axis 0 (outer 1, inner 6)', outer: 1, axisSize: 4, inner: 6 },
  { name: 'axis of 65, workgroup rows', outer: 1, axisSize: 65, inner: 1 },
  { name: 'axis of 257 over 4 rows', outer: 4, axisSize: 257, inner: 1 },
  { name: 'axis of 257, one invocation per row', outer: 4, axisSize: 257, inner: 1, rowThreads: 1 },
  { name: 'middle axis of 100, workgroup rows', outer: 2, axisSize: 100, inner: 3 },
  { name: 'axis of 1000 (classifier)', outer: 3, axisSize: 1000, inner: 1 },
  { name: `${WORKGROUP_SIZE} invocations on 33 elements`, outer: 5, axisSize: 33, inner: 1, rowThreads: WORKGROUP_SIZE },
  { name: 'large and masked logits', outer: 2, axisSize: 40, inner: 1, large: true },
  { name: 'large and masked logits, workgroup rows', outer: 2, axisSize: 300, inner: 1, large: true },
];

const shapeOf = (c: Case): reference.SoftmaxShape => ({ outer: c.outer, axis: c.axisSize, inner: c.inner });
const dimsOf = (c: Case, op: SoftmaxOp): SoftmaxDims => ({ outer: c.outer, axisSize: c.axisSize, inner: c.inner, op, rowThreads: c.rowThreads });

function inputOf(c: Case, seed: number): Float32Array {
  const x = randomTensor(c.outer * c.axisSize * c.inner, seed, 3);
  if (!c.large) return x;
  return x.map((v, j) => ((Math.floor(j / c.inner) % c.axisSize) % 5 === 0 ? -1e30 : v + 95));
}

async function runForward(c: Case, op: SoftmaxOp, x: Float32Array): Promise<Float32Array> {
  const context = await testContext();
  const b = await uploadAll(context, { x });
  const y = await zeros(context, 'y', x.length);
  await runDispatches(context, `softmax ${c.name}`, [await softmaxForward(context, { x: b.x, y }, dimsOf(c, op))]);
  return read(context, y, x.length);
}

async function runBackward(
  c: Case,
  op: SoftmaxOp,
  y: ArrayLike<number>,
  gradY: ArrayLike<number>,
  initial?: ArrayLike<number>,
): Promise<Float32Array> {
  const context = await testContext();
  const b = await uploadAll(context, { y, gradY, gradX: initial ?? new Float32Array(y.length) });
  const dispatch = await softmaxBackward(context, b, { ...dimsOf(c, op), accumulate: initial !== undefined });
  await runDispatches(context, `softmax backward ${c.name}`, [dispatch]);
  return read(context, b.gradX, y.length);
}

// Softmax: WGSL's exp is good to 3 + 2|x| ulp, and |x − max| stays under ~15 where p is not negligible, so ≤ 33 ulp
// (4e-6) relative, plus the f32 row sum's rounding. LogSoftmax: one ulp of |x − max| plus log's few ulp of log Σ.
const FORWARD_TOLERANCE = { softmax: { abs: 1e-7, rel: 1e-5 }, 'log-softmax': { abs: 2e-6, rel: 2e-6 } };
// Backward: the f32 row sum Σ dy⊙y (or Σ dy, |dy| < 1) over up to 1000 terms rounds to ~1e-6 absolute, times y or exp(y) ≤ 1.
const BACKWARD_TOLERANCE = { abs: 2e-6, rel: 1e-5 };

describe('softmax kernels against the float64 reference', () => {
  for (const op of OPS) {
    for (const c of CASES) {
      it(`${op} forward: ${c.name}`, async () => {
        const x = inputOf(c, 11);
        const y = await runForward(c, op, x);
        expectAllClose(y, reference.softmaxForward(op, x, shapeOf(c)), FORWARD_TOLERANCE[op], `${op} ${c.name}`);
      });
    }
  }

  for (const op of OPS) {
    for (const c of CASES) {
      it(`${op} backward from the saved output: ${c.name}`, async () => {
        // The saved output is the reference's, rounded to f32: the backward is tested apart from the forward kernel.
        const y = Float32Array.from(reference.softmaxForward(op, inputOf(c, 11), shapeOf(c)));
        const gradY = randomTensor(y.length, 12);
        const gradX = await runBackward(c, op, y, gradY);
        expectAllClose(gradX, reference.softmaxBackward(op, y, gradY, shapeOf(c)), BACKWARD_TOLERANCE, `${op} ${c.name}`);
      });
    }
  }

  it('backward with accumulate adds into the existing gradient', async () => {
    const c = CASES[8]!;
    const y = Float32Array.from(reference.softmaxForward('softmax', inputOf(c, 3), shapeOf(c)));
    const gradY = randomTensor(y.length, 4);
    const initial = randomTensor(y.length, 5);
    const alone = await runBackward(c, 'softmax', y, gradY);
    const summed = await runBackward(c, 'softmax', y, gradY, initial);
    expect([...summed]).toEqual([...alone].map((v, i) => Math.fround(v + initial[i]!)));
  });

  // A row index past 65535 workgroups is computed from the 2-D grid's width: a narrow grid takes the same path cheaply.
  for (const { rowThreads, rows, width } of [
    { rowThreads: 1, rows: 700, width: 2 },
    { rowThreads: WORKGROUP_SIZE, rows: 10, width: 3 },
  ]) {
    it(`indexes rows through a 2-D grid with ${rowThreads} invocation(s) per row`, async () => {
      const context = await testContext();
      const c: Case = { name: '2-D grid', outer: rows, axisSize: 3, inner: 1, rowThreads };
      const x = inputOf(c, 21);
      const b = await uploadAll(context, { x });
      const y = await zeros(context, 'y', x.length);
      const dispatch = await softmaxForward(context, { x: b.x, y }, dimsOf(c, 'softmax'));
      const workgroups = gridFor(rows * rowThreads, WORKGROUP_SIZE, width);
      expect(workgroups[1]).toBeGreaterThan(1);
      await runDispatches(context, '2-D grid', [{ ...dispatch, workgroups }]);
      expectAllClose(await read(context, y, x.length), reference.softmaxForward('softmax', x, shapeOf(c)), FORWARD_TOLERANCE.softmax, '2-D grid');
    });
  }
});

describe('softmax shape helpers', () => {
  it('splits a shape around ONNX axis, negative axes counting from the end', () => {
    expect(softmaxDims([2, 3, 4, 5], 1, 'softmax')).toEqual({ outer: 2, axisSize: 3, inner: 20, op: 'softmax' });
    expect(softmaxDims([2, 3, 4, 5], -1, 'log-softmax')).toEqual({ outer: 24, axisSize: 5, inner: 1, op: 'log-softmax' });
    expect(() => softmaxDims([2, 3], 2, 'softmax')).toThrow(/axis 2/);
  });

  it('gives short axes one invocation per row and long ones a power of two up to the workgroup size', () => {
    expect([1, 64, 65, 257, 1000, 5000].map(softmaxRowThreads)).toEqual([1, 1, 16, 64, 128, 256].map((n) => Math.min(n, WORKGROUP_SIZE)));
  });
});

describe('softmax reference backward against central finite differences', () => {
  for (const op of OPS) {
    for (const shape of [
      { outer: 2, axis: 5, inner: 3 },
      { outer: 3, axis: 4, inner: 1 },
    ]) {
      it(`${op} (${shape.outer}, ${shape.axis}, ${shape.inner})`, () => {
        const count = shape.outer * shape.axis * shape.inner;
        const x = Float64Array.from(randomTensor(count, 31, 2));
        const seed = randomTensor(count, 32);
        const numeric = numericGradient((z) => reference.softmaxForward(op, z, shape), x, seed);
        // Central differences with h = 1e-5 on functions of order 1: ~1e-9 error.
        expectAllClose(reference.softmaxBackward(op, reference.softmaxForward(op, x, shape), seed, shape), numeric, { abs: 1e-8, rel: 0 }, op);
      });
    }
  }
});
