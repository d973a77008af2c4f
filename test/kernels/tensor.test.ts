import { describe, expect, it } from 'vitest';
import { gridFor, type Dispatch } from '../../src/gpu/commands.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import {
  coalesceAxes,
  concatBackward,
  concatForward,
  concatShape,
  reduceBackward,
  reduceForward,
  reduceShape,
  transposeBackward,
  transposeForward,
  transposeShape,
  type ReduceDims,
} from '../../src/kernels/tensor.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { read, runDispatches, uploadAll, zeros } from '../helpers/run.ts';
import { numericGradient } from '../reference/finite-difference.ts';
import { randomTensor } from '../reference/random.ts';
import * as reference from '../reference/tensor.ts';
import { WORKGROUP_SIZE } from '../../src/kernels/wgsl.ts';

// Transpose and Concat move f32 values without arithmetic: exact.
// ReduceMean forward: an f32 sum of up to 210 values in [−1, 1], times 1/n: ≲ √n·2⁻²⁴ of the mean magnitude, under 1e-6.
const MEAN = { abs: 1e-6, rel: 1e-5 };
// ReduceMean backward: dy·fl(1/n), two roundings.
const MEAN_BACKWARD = { abs: 0, rel: 2.5e-7 };
// Central differences of linear maps: rounding only, 1e-16·|L|/h.
const FINITE_DIFFERENCE = { abs: 1e-8, rel: 1e-8 };

const size = (shape: readonly number[]) => shape.reduce((n, e) => n * e, 1);
const unchanged = (dispatch: Dispatch) => dispatch;
// A narrow maximum per dimension forces the y dimension that tensors past 65535 workgroups get.
const narrow =
  (workgroupSize: number, count: number) =>
  (dispatch: Dispatch): Dispatch => ({ ...dispatch, workgroups: gridFor(count, workgroupSize, 3) });

const TRANSPOSES: [number[], number[] | undefined][] = [
  [[], []], // rank 0
  [[5], [0]],
  [
    [3, 5],
    [1, 0],
  ],
  [[3, 5], undefined], // ONNX default: reverse the axes
  [
    [2, 3, 4],
    [0, 1, 2],
  ], // identity
  [
    [2, 3, 5, 7],
    [0, 2, 3, 1],
  ], // NCHW to NHWC
  [
    [1, 3, 5, 7],
    [0, 3, 1, 2],
  ], // NHWC to NCHW, batch 1
  [
    [2, 1, 3, 1, 5, 2],
    [5, 3, 1, 0, 4, 2],
  ], // rank 6
  [
    [3, 2, 5, 1, 7, 2],
    [1, 0, 2, 3, 5, 4],
  ], // rank 6 with axes that merge
];

const CONCATS: [number[][], number][] = [
  [[[3], [4], [1]], 0],
  [
    [
      [2, 3],
      [2, 5],
    ],
    1,
  ],
  [
    [
      [2, 3],
      [1, 3],
      [4, 3],
    ],
    0,
  ],
  [
    [
      [2, 3],
      [2, 3],
    ],
    -2,
  ],
  [[[3, 4]], 1], // one input
  [
    [
      [1, 3, 5, 7],
      [1, 2, 5, 7],
    ],
    1,
  ], // channels, batch 1
  [
    [
      [2, 3, 5, 7],
      [2, 3, 5, 7],
      [2, 3, 5, 7],
      [2, 3, 5, 7],
    ],
    -1,
  ],
  [
    [
      [2, 3, 5, 2, 1, 3],
      [2, 3, 5, 1, 1, 3],
    ],
    3,
  ], // rank 6
  [
    [
      [2, 3, 0, 4],
      [2, 3, 2, 4],
      [2, 3, 1, 4],
    ],
    2,
  ], // an empty input
];

const REDUCTIONS: ReduceDims[] = [
  { shape: [2, 3, 5, 7], axes: [2, 3] }, // global average pooling, 35 terms
  { shape: [2, 3, 9, 11], axes: [2, 3] }, // 99 terms: one workgroup per output
  { shape: [2, 3, 5, 7] }, // absent axes: all 210
  { shape: [2, 3, 5, 7], axes: [1], keepdims: 0 },
  { shape: [2, 3, 5, 7], axes: [0, 2], keepdims: 1 }, // axes not next to each other
  { shape: [1, 3, 5, 7], axes: [-1] },
  { shape: [4, 5, 6], axes: [0] },
  { shape: [2, 1, 3, 1, 2, 3], axes: [1, 3, 5] }, // rank 6
  { shape: [7], axes: [0], keepdims: 0 },
  { shape: [3, 4], axes: [0, 1], keepdims: 0 },
];
const axesOf = (dims: ReduceDims) => [...(dims.axes ?? [])];

async function transposeOnGpu(context: GpuContext, shape: number[], perm: number[] | undefined, x: Float32Array, layout = unchanged) {
  const buffers = { ...(await uploadAll(context, { x })), y: await zeros(context, 'y', x.length) };
  await runDispatches(context, 'transpose', [layout(await transposeForward(context, buffers, { shape, perm }))]);
  return read(context, buffers.y, x.length);
}

async function transposeBackwardOnGpu(context: GpuContext, shape: number[], perm: number[] | undefined, gradY: Float32Array, initial?: Float32Array) {
  const buffers = await uploadAll(context, { gradY, gradX: initial ?? new Float32Array(gradY.length) });
  await runDispatches(context, 'transpose backward', [await transposeBackward(context, buffers, { shape, perm, accumulate: initial !== undefined })]);
  return read(context, buffers.gradX, gradY.length);
}

async function concatOnGpu(context: GpuContext, shapes: number[][], axis: number, inputs: Float32Array[], layout = unchanged) {
  const count = size(concatShape({ shapes, axis }));
  const y = await zeros(context, 'y', count);
  const buffers = await Promise.all(inputs.map(async (data) => (await uploadAll(context, { data: data.length ? data : [0] })).data));
  await runDispatches(context, 'concat', (await concatForward(context, { inputs: buffers, y }, { shapes, axis })).map(layout));
  return read(context, y, count);
}

async function concatBackwardOnGpu(
  context: GpuContext,
  shapes: number[][],
  axis: number,
  gradY: Float32Array,
  input: number,
  initial?: Float32Array,
) {
  const count = size(shapes[input]!);
  const buffers = await uploadAll(context, { gradY, gradX: initial ?? new Float32Array(Math.max(count, 1)) });
  await runDispatches(context, 'concat backward', [
    await concatBackward(context, buffers, { shapes, axis, input, accumulate: initial !== undefined }),
  ]);
  return read(context, buffers.gradX, count);
}

async function reduceMeanOnGpu(context: GpuContext, dims: ReduceDims, x: Float32Array, layout = unchanged) {
  const count = size(reduceShape(dims));
  const buffers = { ...(await uploadAll(context, { x })), y: await zeros(context, 'y', count), ties: await zeros(context, 'ties', count) };
  await runDispatches(context, 'reduce mean', [layout(await reduceForward(context, buffers, dims))]);
  return read(context, buffers.y, count);
}

async function reduceMeanBackwardOnGpu(context: GpuContext, dims: ReduceDims, gradY: Float32Array, initial?: Float32Array) {
  const count = size(dims.shape);
  const buffers = await uploadAll(context, { gradY, gradX: initial ?? new Float32Array(count) });
  await runDispatches(context, 'reduce mean backward', [await reduceBackward(context, buffers, { ...dims, accumulate: initial !== undefined })]);
  return read(context, buffers.gradX, count);
}

describe('output shapes', () => {
  it('transposeShape permutes, and reverses without perm', () => {
    expect(transposeShape({ shape: [2, 3, 5, 7], perm: [0, 2, 3, 1] })).toEqual([2, 5, 7, 3]);
    expect(transposeShape({ shape: [2, 3, 5] })).toEqual([5, 3, 2]);
    expect(() => transposeShape({ shape: [2, 3], perm: [0, 0] })).toThrow(/not a permutation/);
  });

  it('concatShape adds the extents along the axis and refuses other mismatches', () => {
    expect(
      concatShape({
        shapes: [
          [2, 3],
          [2, 5],
        ],
        axis: -1,
      }),
    ).toEqual([2, 8]);
    expect(() =>
      concatShape({
        shapes: [
          [2, 3],
          [3, 5],
        ],
        axis: 1,
      }),
    ).toThrow(/differ off axis 1/);
    expect(() => concatShape({ shapes: [[2, 3]], axis: 2 })).toThrow(/out of range/);
  });

  it('reduceShape keeps reduced axes as 1 by default and drops them with keepdims 0', () => {
    expect(reduceShape({ shape: [2, 3, 5, 7], axes: [2, -1] })).toEqual([2, 3, 1, 1]);
    expect(reduceShape({ shape: [2, 3, 5, 7], axes: [1], keepdims: 0 })).toEqual([2, 5, 7]);
    expect(reduceShape({ shape: [2, 3], axes: [], keepdims: false })).toEqual([]);
    expect(() => reduceShape({ shape: [2, 3], axes: [1, -1] })).toThrow(/repeat/);
  });

  it('coalesceAxes drops extent-1 axes and merges axes every stride set walks as one', () => {
    expect(coalesceAxes([2, 1, 3, 4], [12, 12, 4, 1], [0, 0, 4, 1])).toEqual({
      shape: [2, 12],
      strides: [
        [12, 1],
        [0, 1],
      ],
    });
    expect(coalesceAxes([2, 3], [1, 2])).toEqual({ shape: [2, 3], strides: [[1, 2]] });
  });
});

describe('transpose against the float64 reference', () => {
  TRANSPOSES.forEach(([shape, perm], c) => {
    it(`[${shape}] perm [${perm ?? 'reversed'}]: forward`, async () => {
      const x = randomTensor(size(shape), c);
      const p = perm ?? [...shape.keys()].reverse();
      expect([...(await transposeOnGpu(await testContext(), shape, perm, x))]).toEqual([...reference.transpose(x, shape, p)]);
    });

    it(`[${shape}] perm [${perm ?? 'reversed'}]: input gradient`, async () => {
      const gradY = randomTensor(size(shape), 100 + c);
      const p = perm ?? [...shape.keys()].reverse();
      expect([...(await transposeBackwardOnGpu(await testContext(), shape, perm, gradY))]).toEqual([...reference.transposeBackward(gradY, shape, p)]);
    });
  });
});

describe('concat against the float64 reference', () => {
  CONCATS.forEach(([shapes, axis], c) => {
    const label = `${shapes.map((s) => `[${s}]`).join(' ')} axis ${axis}`;
    it(`${label}: forward`, async () => {
      const inputs = shapes.map((shape, k) => randomTensor(size(shape), 10 * c + k));
      expect([...(await concatOnGpu(await testContext(), shapes, axis, inputs))]).toEqual([...reference.concat(inputs, shapes, axis)]);
    });

    it(`${label}: input gradients`, async () => {
      const context = await testContext();
      const gradY = randomTensor(size(concatShape({ shapes, axis })), 200 + c);
      const expected = reference.concatBackward(gradY, shapes, axis);
      for (let k = 0; k < shapes.length; k++) {
        expect([...(await concatBackwardOnGpu(context, shapes, axis, gradY, k))], `input ${k}`).toEqual([...expected[k]!]);
      }
    });
  });
});

describe('reduce mean against the float64 reference', () => {
  REDUCTIONS.forEach((dims, c) => {
    const label = `[${dims.shape}] axes [${dims.axes ?? 'all'}] keepdims ${dims.keepdims ?? 1}`;
    it(`${label}: forward`, async () => {
      const x = randomTensor(size(dims.shape), c);
      expectAllClose(await reduceMeanOnGpu(await testContext(), dims, x), reference.reduceMean(x, dims.shape, axesOf(dims)), MEAN);
    });

    it(`${label}: input gradient`, async () => {
      const gradY = randomTensor(size(reduceShape(dims)), 300 + c);
      const gradX = await reduceMeanBackwardOnGpu(await testContext(), dims, gradY);
      expectAllClose(gradX, reference.reduceMeanBackward(gradY, dims.shape, axesOf(dims)), MEAN_BACKWARD);
    });
  });
});

describe('reduce sum, L2, max, min, L1 and sum of squares against the float64 reference', () => {
  // Folds of up to 192 f32 terms (sums: ~√K·2⁻²⁴ relative to Σ|x|); max and min are exact.
  const FOLD = { abs: 1e-5, rel: 1e-5 };
  async function run(dims: ReduceDims, x: Float32Array, gradY: Float32Array, initial?: Float32Array) {
    const context = await testContext();
    const count = size(reduceShape(dims));
    const buffers = {
      ...(await uploadAll(context, { x, gradY, gradX: initial ?? new Float32Array(x.length) })),
      y: await zeros(context, 'y', count),
      ties: await zeros(context, 'ties', count),
    };
    await runDispatches(context, `reduce ${dims.op}`, [
      await reduceForward(context, buffers, dims),
      await reduceBackward(context, buffers, { ...dims, accumulate: initial !== undefined }),
    ]);
    return { y: await read(context, buffers.y, count), gradX: await read(context, buffers.gradX, x.length) };
  }
  for (const op of ['sum', 'l2', 'max', 'min', 'l1', 'sum-square'] as const) {
    REDUCTIONS.forEach((base, c) => {
      const dims = { ...base, op };
      it(`${op} [${dims.shape}] axes [${dims.axes ?? 'all'}]: forward and input gradient`, async () => {
        const x = randomTensor(size(dims.shape), 500 + c);
        // Ties where max and min must split the gradient: every third input repeats its neighbour.
        x.forEach((_, i) => i % 3 === 2 && (x[i] = x[i - 1]!));
        const gradY = randomTensor(size(reduceShape(dims)), 600 + c);
        const { y, gradX } = await run(dims, x, gradY);
        expectAllClose(y, reference.reduce(op, x, dims.shape, axesOf(dims)), FOLD, `${op} forward`);
        expectAllClose(gradX, reference.reduceBackward(op, x, gradY, dims.shape, axesOf(dims)), FOLD, `${op} backward`);
      });
    });
    it(`${op}: backward with accumulate adds into the existing gradient`, async () => {
      const dims = { shape: [2, 3, 5, 7], axes: [1, 3], op };
      const x = randomTensor(210, 700);
      const gradY = randomTensor(10, 701);
      const initial = randomTensor(210, 702);
      const { gradX: alone } = await run(dims, x, gradY);
      const { gradX: added } = await run(dims, x, gradY, initial);
      expect([...added]).toEqual([...alone].map((v, i) => Math.fround(v + initial[i]!)));
    });
  }
});

describe('backward with accumulate adds into the existing gradient', () => {
  const initial = randomTensor(2 * 3 * 5 * 7, 77, 4);
  const added = (alone: Float32Array) => [...alone].map((v, i) => Math.fround(v + initial[i]!));

  it('transpose', async () => {
    const context = await testContext();
    const gradY = randomTensor(initial.length, 1);
    const alone = await transposeBackwardOnGpu(context, [2, 3, 5, 7], [0, 2, 3, 1], gradY);
    expect([...(await transposeBackwardOnGpu(context, [2, 3, 5, 7], [0, 2, 3, 1], gradY, initial))]).toEqual(added(alone));
  });

  it('concat', async () => {
    const context = await testContext();
    const shapes = [
      [2, 4, 5, 7],
      [2, 3, 5, 7],
    ];
    const gradY = randomTensor(2 * 7 * 5 * 7, 2);
    const alone = await concatBackwardOnGpu(context, shapes, 1, gradY, 1);
    expect([...(await concatBackwardOnGpu(context, shapes, 1, gradY, 1, initial))]).toEqual(added(alone));
  });

  it('reduce mean', async () => {
    const context = await testContext();
    const dims = { shape: [2, 3, 5, 7], axes: [1, 3] };
    const gradY = randomTensor(2 * 5, 3);
    const alone = await reduceMeanBackwardOnGpu(context, dims, gradY);
    expect([...(await reduceMeanBackwardOnGpu(context, dims, gradY, initial))]).toEqual(added(alone));
  });
});

describe('tensor kernels on a 2-D grid of workgroups', () => {
  const shape = [4, 5, 8, 9];
  const x = randomTensor(size(shape), 9);

  it('a strided read (transpose) covers every element', async () => {
    const y = await transposeOnGpu(await testContext(), shape, [3, 1, 0, 2], x, narrow(WORKGROUP_SIZE, x.length));
    expect([...y]).toEqual([...reference.transpose(x, shape, [3, 1, 0, 2])]);
  });

  it('a strided write (concat) covers every element', async () => {
    const shapes = [shape, [4, 5, 8, 2]];
    const inputs = [x, randomTensor(4 * 5 * 8 * 2, 10)];
    const y = await concatOnGpu(await testContext(), shapes, -1, inputs, narrow(WORKGROUP_SIZE, x.length + inputs[1]!.length));
    expect([...y]).toEqual([...reference.concat(inputs, shapes, -1)]);
  });

  it('one invocation per mean covers every output', async () => {
    const dims = { shape: [2, 8, 10, 12], axes: [0] }; // 960 outputs: several workgroups
    const input = randomTensor(2 * 960, 11);
    const y = await reduceMeanOnGpu(await testContext(), dims, input, narrow(WORKGROUP_SIZE, 960));
    expectAllClose(y, reference.reduceMean(input, dims.shape, [0]), MEAN);
  });

  it('one workgroup per mean covers every output', async () => {
    const dims = { shape, axes: [2, 3] }; // 72 terms
    const y = await reduceMeanOnGpu(await testContext(), dims, x, narrow(1, 4 * 5));
    expectAllClose(y, reference.reduceMean(x, shape, [2, 3]), MEAN);
  });
});

describe('tensor reference backwards against central finite differences', () => {
  const seed = (n: number) => randomTensor(n, 500);

  it('transpose', () => {
    const shape = [2, 3, 4];
    const perm = [2, 0, 1];
    const x = randomTensor(24, 1);
    const numeric = numericGradient((z) => reference.transpose(z, shape, perm), x, seed(24));
    expectAllClose(reference.transposeBackward(seed(24), shape, perm), numeric, FINITE_DIFFERENCE);
  });

  it('concat', () => {
    const shapes = [
      [2, 1, 3],
      [2, 2, 3],
    ];
    const x = randomTensor(18, 2);
    const numeric = numericGradient((z) => reference.concat([z.slice(0, 6), z.slice(6)], shapes, 1), x, seed(18));
    const [first, second] = reference.concatBackward(seed(18), shapes, 1);
    expectAllClose([...first!, ...second!], numeric, FINITE_DIFFERENCE);
  });

  it('reduce mean', () => {
    const shape = [2, 3, 4];
    const x = randomTensor(24, 3);
    const numeric = numericGradient((z) => reference.reduceMean(z, shape, [0, 2]), x, seed(3));
    expectAllClose(reference.reduceMeanBackward(seed(3), shape, [0, 2]), numeric, FINITE_DIFFERENCE);
  });

  for (const op of ['sum', 'l2', 'max', 'min', 'l1', 'sum-square'] as const) {
    it(`reduce ${op} (no ties: the derivative exists)`, () => {
      const shape = [2, 3, 5];
      const x = randomTensor(30, 800);
      const seed = randomTensor(6, 801);
      const numeric = numericGradient((z) => reference.reduce(op, z, shape, [2]), x, seed);
      expectAllClose(reference.reduceBackward(op, x, seed, shape, [2]), numeric, FINITE_DIFFERENCE);
    });
  }
});
