import { describe, expect, it } from 'vitest';
import { gridFor, type Dispatch } from '../../src/gpu/commands.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import { binaryBackward, binaryForward, broadcastShape } from '../../src/kernels/binary.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { read, runDispatches, uploadAll, zeros } from '../helpers/run.ts';
import {
  BINARY_OPS,
  binaryBackward as referenceBackward,
  binaryForward as referenceForward,
  outputShape,
  type BinaryOp,
} from '../reference/binary.ts';
import { numericGradient } from '../reference/finite-difference.ts';
import { randomTensor } from '../reference/random.ts';
import { WORKGROUP_SIZE } from '../../src/kernels/wgsl.ts';

// One f32 operation per element: correctly rounded for + − ×, and WGSL allows 2.5 ulp for ÷ (2.5·2⁻²³ ≈ 3e-7).
const FORWARD = { abs: 1e-7, rel: 3e-7 };
// f32 sums of up to 140 partials of order 1 (each off by a few ulp): about √K·2⁻²⁴·Σ|terms| ≲ 1e-5.
const BACKWARD = { abs: 1e-5, rel: 1e-5 };

/** [a's shape, b's shape]: odd extents, batch 1 and > 1, rank 0 to 6, each side broadcast, both sides broadcast. */
const CASES: [number[], number[]][] = [
  [
    [3, 5],
    [3, 5],
  ], // one shape: the elementwise fast path
  [[1, 3], [3]], // one shape once padded
  [
    [2, 3, 5, 7],
    [3, 1, 1],
  ], // per-channel b
  [
    [3, 1, 1],
    [1, 3, 5, 7],
  ], // per-channel a, batch 1
  [[4, 3], []], // rank-0 b
  [[1], [2, 3, 4]],
  [
    [2, 1, 5],
    [1, 4, 1],
  ], // the output is larger than either input
  [
    [5, 1],
    [1, 7],
  ],
  [
    [2, 1, 3, 1, 2, 3],
    [1, 2, 1, 3, 1, 3],
  ], // rank 6
  [
    [2, 3, 9, 11],
    [2, 3, 1, 1],
  ], // b's gradient sums 99 terms: one workgroup per element
  [
    [1, 3, 1, 1],
    [5, 3, 4, 7],
  ], // a's gradient sums 140 terms
];

const size = (shape: readonly number[]) => shape.reduce((n, e) => n * e, 1);

/** Inputs for a case; Div's divisor kept in ±[0.5, 1.5] so quotients stay of order 1; Where's condition shaped like a. */
function inputs(op: BinaryOp, aShape: number[], bShape: number[], seed: number) {
  const a = randomTensor(size(aShape), seed);
  const b = randomTensor(size(bShape), seed + 1);
  if (op === 'div') b.forEach((v, i) => (b[i] = Math.sign(v || 1) * (0.5 + Math.abs(v))));
  const gradY = randomTensor(size(outputShape(aShape, bShape)), seed + 2);
  const condition = Float32Array.from(randomTensor(size(aShape), seed + 3), (v) => Number(v > 0));
  return { a, b, gradY, condition };
}
const conditionOf = (op: BinaryOp, aShape: number[], condition: Float32Array) => (op === 'where' ? { shape: aShape, data: condition } : undefined);

async function forwardOnGpu(
  context: GpuContext,
  op: BinaryOp,
  aShape: number[],
  bShape: number[],
  a: Float32Array,
  b: Float32Array,
  condition: Float32Array,
) {
  const count = size(broadcastShape(aShape, bShape));
  const buffers = { ...(await uploadAll(context, { a, b, condition })), y: await zeros(context, 'y', count) };
  await runDispatches(context, `${op} forward`, [await binaryForward(context, buffers, { op, aShape, bShape, conditionShape: aShape })]);
  return read(context, buffers.y, count);
}

async function backwardOnGpu(
  context: GpuContext,
  op: BinaryOp,
  aShape: number[],
  bShape: number[],
  data: { a: Float32Array; b: Float32Array; gradY: Float32Array; condition?: Float32Array },
  input: 'a' | 'b',
  initial?: Float32Array,
  layout: (dispatch: Dispatch, count: number) => Dispatch = (dispatch) => dispatch,
) {
  const count = size(input === 'a' ? aShape : bShape);
  const buffers = await uploadAll(context, {
    ...data,
    condition: data.condition ?? new Float32Array(size(aShape)),
    gradX: initial ?? new Float32Array(Math.max(count, 1)),
  });
  const dims = { op, aShape, bShape, conditionShape: aShape, input, accumulate: initial !== undefined };
  await runDispatches(context, `${op} backward ${input}`, [layout(await binaryBackward(context, buffers, dims), count)]);
  return read(context, buffers.gradX, count);
}

describe('broadcastShape', () => {
  it('pads on the left and takes the non-1 extent of each axis', () => {
    expect(broadcastShape([2, 3, 5, 7], [3, 1, 1])).toEqual([2, 3, 5, 7]);
    expect(broadcastShape([2, 1, 5], [1, 4, 1])).toEqual([2, 4, 5]);
    expect(broadcastShape([], [4])).toEqual([4]);
    expect(broadcastShape([], [])).toEqual([]);
    expect(broadcastShape([3, 0], [1, 1])).toEqual([3, 0]);
  });

  it('refuses shapes that do not broadcast, naming both', () => {
    expect(() => broadcastShape([2, 3], [4, 3])).toThrow(/\[2,3\] and \[4,3\] do not broadcast/);
    expect(() => broadcastShape([3], [2])).toThrow(/do not broadcast/);
  });
});

describe('binary forward against the float64 reference', () => {
  for (const op of BINARY_OPS) {
    CASES.forEach(([aShape, bShape], c) => {
      it(`${op} [${aShape}] with [${bShape}]`, async () => {
        const { a, b, condition } = inputs(op, aShape, bShape, 10 * c);
        const y = await forwardOnGpu(await testContext(), op, aShape, bShape, a, b, condition);
        expectAllClose(
          y,
          referenceForward(op, { shape: aShape, data: a }, { shape: bShape, data: b }, conditionOf(op, aShape, condition)),
          FORWARD,
          op,
        );
      });
    });
  }
});

describe('binary input gradients against the float64 reference', () => {
  for (const op of BINARY_OPS) {
    CASES.forEach(([aShape, bShape], c) => {
      it(`${op} [${aShape}] with [${bShape}]: gradients of a and b`, async () => {
        const context = await testContext();
        const data = inputs(op, aShape, bShape, 10 * c);
        const expected = referenceBackward(
          op,
          { shape: aShape, data: data.a },
          { shape: bShape, data: data.b },
          data.gradY,
          conditionOf(op, aShape, data.condition),
        );
        expectAllClose(await backwardOnGpu(context, op, aShape, bShape, data, 'a'), expected.gradA, BACKWARD, `${op} grad a`);
        expectAllClose(await backwardOnGpu(context, op, aShape, bShape, data, 'b'), expected.gradB, BACKWARD, `${op} grad b`);
      });
    });
  }

  it('add and sub need neither forward input', async () => {
    const context = await testContext();
    const data = inputs('sub', [2, 3], [3], 7);
    const buffers = await uploadAll(context, { gradY: data.gradY, gradX: new Float32Array(3) });
    await runDispatches(context, 'sub backward b', [await binaryBackward(context, buffers, { op: 'sub', aShape: [2, 3], bShape: [3], input: 'b' })]);
    const expected = referenceBackward('sub', { shape: [2, 3], data: data.a }, { shape: [3], data: data.b }, data.gradY).gradB;
    expectAllClose(await read(context, buffers.gradX, 3), expected, BACKWARD);
  });

  it('mul and div refuse to run without the forward input they read', async () => {
    const context = await testContext();
    const buffers = await uploadAll(context, { gradY: new Float32Array(6), gradX: new Float32Array(3), a: new Float32Array(6) });
    await expect(binaryBackward(context, buffers, { op: 'div', aShape: [2, 3], bShape: [3], input: 'b' })).rejects.toThrow(
      /needs the forward input\(s\) a and b/,
    );
  });
});

describe('min and max at ties', () => {
  // Every other element of b equals a's: the gradient splits evenly there (PyTorch's choice and the mean of the
  // one-sided derivatives, which is what the central difference measures).
  const aShape = [3, 5];
  const a = randomTensor(15, 70);
  const b = Float32Array.from(a, (v, i) => (i % 2 === 0 ? v : v + 0.3 * Math.sign((i % 4) - 2)));
  const gradY = randomTensor(15, 71);
  for (const op of ['min', 'max'] as const) {
    it(`${op}: kernel against the reference, and the reference against central differences`, async () => {
      const context = await testContext();
      const expected = referenceBackward(op, { shape: aShape, data: a }, { shape: aShape, data: b }, gradY);
      expect(expected.gradA.filter((_, i) => i % 2 === 0)).toEqual(
        Float64Array.from(
          gradY.filter((_, i) => i % 2 === 0),
          (g) => g / 2,
        ),
      );
      expectAllClose(await backwardOnGpu(context, op, aShape, aShape, { a, b, gradY }, 'a'), expected.gradA, BACKWARD, `${op} grad a`);
      expectAllClose(await backwardOnGpu(context, op, aShape, aShape, { a, b, gradY }, 'b'), expected.gradB, BACKWARD, `${op} grad b`);
      const numericA = numericGradient((z) => referenceForward(op, { shape: aShape, data: z }, { shape: aShape, data: b }), a, gradY);
      expectAllClose(expected.gradA, numericA, { abs: 1e-7, rel: 1e-6 }, `${op} finite differences`);
    });
  }
});

describe('binary backward with accumulate adds into the existing gradient', () => {
  for (const [label, aShape, bShape] of [
    ['one invocation per element', [2, 3, 5, 7], [3, 1, 1]],
    ['one workgroup per element', [2, 3, 9, 11], [2, 3, 1, 1]],
  ] as const) {
    it(label, async () => {
      const context = await testContext();
      const data = inputs('mul', [...aShape], [...bShape], 3);
      const initial = randomTensor(size(bShape), 99, 4);
      const alone = await backwardOnGpu(context, 'mul', [...aShape], [...bShape], data, 'b');
      const added = await backwardOnGpu(context, 'mul', [...aShape], [...bShape], data, 'b', initial);
      expect([...added]).toEqual([...alone].map((v, i) => Math.fround(v + initial[i]!)));
    });
  }
});

describe('binary kernels on a 2-D grid of workgroups', () => {
  // A narrow maximum per dimension forces the y dimension that tensors past 65535 workgroups get.
  const narrow =
    (workgroupSize: number) =>
    (dispatch: Dispatch, count: number): Dispatch => ({
      ...dispatch,
      workgroups: gridFor(count, workgroupSize, 3),
    });

  it('one invocation per element covers every gradient element', async () => {
    const data = inputs('div', [4, 5, 7, 9], [5, 1, 1], 5);
    const expected = referenceBackward('div', { shape: [4, 5, 7, 9], data: data.a }, { shape: [5, 1, 1], data: data.b }, data.gradY).gradA;
    const gradA = await backwardOnGpu(await testContext(), 'div', [4, 5, 7, 9], [5, 1, 1], data, 'a', undefined, narrow(WORKGROUP_SIZE));
    expectAllClose(gradA, expected, BACKWARD);
  });

  it('one workgroup per element covers every gradient element', async () => {
    const data = inputs('div', [4, 5, 8, 9], [4, 5, 1, 1], 6); // 72 terms per element
    const expected = referenceBackward('div', { shape: [4, 5, 8, 9], data: data.a }, { shape: [4, 5, 1, 1], data: data.b }, data.gradY).gradB;
    const gradB = await backwardOnGpu(await testContext(), 'div', [4, 5, 8, 9], [4, 5, 1, 1], data, 'b', undefined, narrow(1));
    expectAllClose(gradB, expected, BACKWARD);
  });
});

describe('binary reference backward against central finite differences', () => {
  // Error O(h²·f''') ≈ 1e-9 for |b| ≥ 0.5, plus rounding 1e-16·|L|/h.
  const FINITE_DIFFERENCE = { abs: 1e-7, rel: 1e-6 };
  const shapes: [number[], number[]][] = [
    [
      [2, 3],
      [2, 3],
    ],
    [
      [2, 1, 3],
      [4, 1],
    ],
  ];
  for (const op of BINARY_OPS) {
    it(op, () => {
      shapes.forEach(([aShape, bShape], c) => {
        const { a, b, gradY, condition } = inputs(op, aShape, bShape, 50 + c);
        const split = (z: ArrayLike<number>) => ({
          a: { shape: aShape, data: Array.from(z).slice(0, a.length) },
          b: { shape: bShape, data: Array.from(z).slice(a.length) },
        });
        const mask = conditionOf(op, aShape, condition);
        const numeric = numericGradient((z) => referenceForward(op, split(z).a, split(z).b, mask), [...a, ...b], gradY);
        const { gradA, gradB } = referenceBackward(op, { shape: aShape, data: a }, { shape: bShape, data: b }, gradY, mask);
        expectAllClose([...gradA, ...gradB], numeric, FINITE_DIFFERENCE, `${op} [${aShape}] with [${bShape}]`);
      });
    });
  }
});
