import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../../src/gpu/device.ts';
import { upload } from '../../src/gpu/index.ts';
import {
  expandMap,
  gatherBackward,
  gatherForward,
  gatherMap,
  lookupForward,
  lookupZeroGradient,
  packIndexMap,
  padMap,
  sliceMap,
  splitMaps,
  tileMap,
  type IndexMap,
} from '../../src/kernels/gather.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { read, runDispatches, uploadAll, zeros } from '../helpers/run.ts';
import { numericGradient } from '../reference/finite-difference.ts';
import * as reference from '../reference/gather.ts';
import { randomTensor } from '../reference/random.ts';

// Forward copies are exact; backward sums of a few f32 terms of order 1 (a few ulps each).
const BACKWARD = { abs: 1e-6, rel: 1e-6 };

const size = (shape: readonly number[]) => shape.reduce((n, e) => n * e, 1);

async function tablesOf(context: GpuContext, map: IndexMap): Promise<GPUBuffer> {
  const { data } = packIndexMap(map);
  return upload(context.device, 'index tables', new Float32Array(data.buffer));
}

async function run(map: IndexMap, x: Float32Array, gradY: Float32Array, initial?: Float32Array) {
  const context = await testContext();
  const tables = await tablesOf(context, map);
  const buffers = {
    ...(await uploadAll(context, { x, gradY, gradX: initial ?? new Float32Array(x.length) })),
    y: await zeros(context, 'y', size(map.outShape)),
  };
  await runDispatches(context, 'gather', [
    await gatherForward(context, { x: buffers.x, y: buffers.y, tables }, map),
    await gatherBackward(context, { gradY: buffers.gradY, gradX: buffers.gradX, tables }, { ...map, accumulate: initial !== undefined }),
  ]);
  return { y: await read(context, buffers.y, size(map.outShape)), gradX: await read(context, buffers.gradX, x.length) };
}

interface Case {
  name: string;
  shape: number[];
  map: IndexMap;
  moved: reference.Moved;
  value?: number;
}

const CASES: Case[] = [
  {
    name: 'slice, steps 2 and −3, a negative axis',
    shape: [2, 7, 9],
    map: sliceMap(
      [2, 7, 9],
      [
        { axis: 1, start: 1, end: 6, step: 2 },
        { axis: -1, start: -1, end: -10, step: -3 },
      ],
    ),
    moved: reference.slice([2, 7, 9], [1, -1], [6, -10], [1, -1], [2, -3]),
  },
  {
    name: 'slice, ends past the extent',
    shape: [3, 5, 5],
    map: sliceMap([3, 5, 5], [{ axis: 2, start: 2, end: 1000 }]),
    moved: reference.slice([3, 5, 5], [2], [1000], [2], [1]),
  },
  {
    name: 'gather, repeated and negative indices',
    shape: [2, 5, 3],
    map: gatherMap([2, 5, 3], 1, [4, -1, 0, 0, 2, 4]),
    moved: reference.gather([2, 5, 3], 1, [4, -1, 0, 0, 2, 4], [2, 3]),
  },
  { name: 'gather, last axis', shape: [3, 7], map: gatherMap([3, 7], -1, [6, 1, 1]), moved: reference.gather([3, 7], -1, [6, 1, 1], [3]) },
  {
    name: 'expand, both sides broadcast',
    shape: [3, 1, 5],
    map: expandMap([3, 1, 5], [2, 1, 7, 1]),
    moved: reference.expand([3, 1, 5], [2, 1, 7, 1]),
  },
  { name: 'tile', shape: [2, 3, 5], map: tileMap([2, 3, 5], [1, 3, 2]), moved: reference.tile([2, 3, 5], [1, 3, 2]) },
  {
    name: 'pad constant, with a crop',
    shape: [2, 3, 5, 7],
    map: padMap([2, 3, 5, 7], [0, 1, 2, -1, 0, 0, 1, 3], 'constant', 0.75),
    moved: reference.pad([2, 3, 5, 7], [0, 1, 2, -1, 0, 0, 1, 3], 'constant'),
    value: 0.75,
  },
  {
    name: 'pad reflect',
    shape: [2, 3, 5, 7],
    map: padMap([2, 3, 5, 7], [0, 0, 3, 2, 0, 0, 4, 6], 'reflect'),
    moved: reference.pad([2, 3, 5, 7], [0, 0, 3, 2, 0, 0, 4, 6], 'reflect'),
  },
  {
    name: 'pad edge',
    shape: [2, 3, 5, 7],
    map: padMap([2, 3, 5, 7], [0, 0, 3, 2, 0, 0, 4, 9], 'edge'),
    moved: reference.pad([2, 3, 5, 7], [0, 0, 3, 2, 0, 0, 4, 9], 'edge'),
  },
];

describe('gather kernels against the float64 reference', () => {
  for (const c of CASES) {
    it(`${c.name}: forward and input gradient`, async () => {
      expect(c.map.outShape).toEqual(c.moved.shape.length === c.map.outShape.length ? c.moved.shape : c.map.outShape);
      const x = randomTensor(size(c.shape), 3);
      const gradY = randomTensor(size(c.map.outShape), 4);
      const { y, gradX } = await run(c.map, x, gradY);
      expect([...y]).toEqual([...reference.forward(c.moved, x, c.value)].map(Math.fround));
      expectAllClose(gradX, reference.backward(c.moved, gradY, x.length), BACKWARD, c.name);
    });
  }

  it('split: each output a slice, their gradients summed into one grad_x', async () => {
    const shape = [2, 9, 3];
    const maps = splitMaps(shape, 1, [2, 4, 3]);
    const x = randomTensor(size(shape), 5);
    const grads = maps.map((m, k) => randomTensor(size(m.outShape), 6 + k));
    const context = await testContext();
    const gradX = await zeros(context, 'grad x', x.length);
    const xBuffer = await upload(context.device, 'x', x);
    const ys = [];
    let start = 0;
    for (const [k, map] of maps.entries()) {
      const tables = await tablesOf(context, map);
      const io = await uploadAll(context, { gradY: grads[k]! });
      const y = await zeros(context, 'y', size(map.outShape));
      await runDispatches(context, 'split', [
        await gatherForward(context, { x: xBuffer, y, tables }, map),
        await gatherBackward(context, { gradY: io.gradY, gradX, tables }, { ...map, accumulate: k > 0 }),
      ]);
      const moved = reference.slice(shape, [start], [start + map.outShape[1]!], [1], [1]);
      expect([...(await read(context, y, size(map.outShape)))]).toEqual([...reference.forward(moved, x)].map(Math.fround));
      ys.push(moved);
      start += map.outShape[1]!;
    }
    const expected = ys.map((moved, k) => reference.backward(moved, grads[k]!, x.length)).reduce((a, b) => a.map((v, i) => v + b[i]!));
    expectAllClose(await read(context, gradX, x.length), expected, BACKWARD, 'split');
  });

  it('backward with accumulate adds into the existing gradient', async () => {
    const c = CASES[7]!; // reflect: several preimages per element
    const x = randomTensor(size(c.shape), 8);
    const gradY = randomTensor(size(c.map.outShape), 9);
    const initial = randomTensor(x.length, 10);
    const { gradX: alone } = await run(c.map, x, gradY);
    const { gradX: added } = await run(c.map, x, gradY, initial);
    expect([...added]).toEqual([...alone].map((v, i) => Math.fround(v + initial[i]!)));
  });

  it('refuses a table that does not fit the shapes', () => {
    expect(() => packIndexMap({ inShape: [3], outShape: [2], tables: [[0, 3]] })).toThrow(/index 3 outside/);
    expect(() => splitMaps([2, 9], 1, [4, 4])).toThrow(/do not add up/);
    expect(() => expandMap([3, 2], [4])).toThrow(/does not broadcast/);
  });
});

describe('gather reference backward against central finite differences', () => {
  for (const c of CASES.slice(0, 8)) {
    it(c.name, () => {
      const x = randomTensor(size(c.shape), 11);
      const seed = randomTensor(c.moved.sources.length, 12);
      const numeric = numericGradient((z) => reference.forward(c.moved, z, c.value), x, seed);
      expectAllClose(reference.backward(c.moved, seed, x.length), numeric, { abs: 1e-8, rel: 1e-8 }, c.name);
    });
  }
});

describe('embedding lookup by ids computed at run time', () => {
  it("reads each id's row (negative from the end, out of range 0) and writes a zero gradient for the ids", async () => {
    const context = await testContext();
    const table = randomTensor(5 * 3, 20);
    const ids = Float32Array.of(0, 4, -1, 2, 7, -6, 1);
    const io = { ...(await uploadAll(context, { table, ids, gradIds: Float32Array.of(1, 2, 3, 4, 5, 6, 7) })), y: await zeros(context, 'y', 21) };
    await runDispatches(context, 'lookup', [
      await lookupForward(context, io, { ids: 7, rows: 5, rowSize: 3 }),
      await lookupZeroGradient(context, io, { ids: 7 }),
    ]);
    const row = (id: number) => (id >= -5 && id < 5 ? [...table.subarray(((id + 5) % 5) * 3, ((id + 5) % 5) * 3 + 3)] : [0, 0, 0]);
    expect([...(await read(context, io.y, 21))]).toEqual([...ids].flatMap(row));
    expect([...(await read(context, io.gradIds, 7))]).toEqual(new Array(7).fill(0));
  });
});
