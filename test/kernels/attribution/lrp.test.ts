import { describe, expect, it } from 'vitest';
import { lrpAdd, lrpBound, lrpDivide, lrpModify, lrpProduct, type LrpModifier } from '../../../src/kernels/attribution/lrp.ts';
import { WORKGROUP_SIZE } from '../../../src/kernels/wgsl.ts';
import { expectAllClose } from '../../helpers/close.ts';
import { testContext } from '../../helpers/gpu.ts';
import { read, runDispatches, uploadAll } from '../../helpers/run.ts';
import * as reference from '../../reference/lrp.ts';
import { randomTensor } from '../../reference/random.ts';

// Odd sizes: one element, a workgroup and one past it, several workgroups with a partial last one.
const SIZES = [1, WORKGROUP_SIZE, WORKGROUP_SIZE + 1, 3 * WORKGROUP_SIZE + 37];
// One f32 operation each (a product, a sum, a quotient): correctly rounded on every adapter but the division (2.5 ulp).
const ONE_OP = { abs: 0, rel: 2 ** -23 };
const DIVISION = { abs: 0, rel: 3 * 2 ** -23 };

describe('lrp kernels against their float64 references', () => {
  for (const count of SIZES) {
    for (const modifier of ['positive', 'negative', 'gamma', 'ones'] as LrpModifier[]) {
      it(`modify ${modifier}, ${count} elements`, async () => {
        const context = await testContext();
        const x = randomTensor(count, 11, 2);
        const io = await uploadAll(context, { x, y: new Float32Array(count) });
        await runDispatches(context, 'lrp modify', [await lrpModify(context, io, { count, modifier, gamma: 0.25 })]);
        expectAllClose(await read(context, io.y, count), reference.modify(x, modifier, 0.25), ONE_OP, modifier);
      });
    }

    it(`bound per channel and one value, ${count} elements`, async () => {
      const context = await testContext();
      for (const values of [[-0.5], [-2.1, 0.3, 1.7]]) {
        const io = await uploadAll(context, { bound: values, y: new Float32Array(count) });
        await runDispatches(context, 'lrp bound', [await lrpBound(context, io, { count, inner: 5, channels: values.length })]);
        expect([...(await read(context, io.y, count))]).toEqual([...reference.bound(Float32Array.from(values), count, 5)]);
      }
    });

    it(`divide with ε = 1e-3 and ε = 0, ${count} elements`, async () => {
      const context = await testContext();
      const relevance = randomTensor(count, 12);
      // Exact zeros and values near −ε exercise sign(0) = 1 and the zero denominator.
      const z = randomTensor(count, 13).map((v, i) => (i % 7 === 0 ? 0 : i % 11 === 0 ? -1e-3 : v));
      for (const epsilon of [1e-3, 0]) {
        const io = await uploadAll(context, { relevance, z });
        await runDispatches(context, 'lrp divide', [await lrpDivide(context, io, { count, epsilon })]);
        const expected = reference.divide(relevance, z, Math.fround(epsilon));
        expectAllClose(await read(context, io.z, count), expected, DIVISION, `ε ${epsilon}`);
      }
    });

    it(`add and product, overwriting and accumulating, ${count} elements`, async () => {
      const context = await testContext();
      const [x, c, previous] = [randomTensor(count, 14), randomTensor(count, 15), randomTensor(count, 16)];
      for (const accumulate of [false, true]) {
        const io = await uploadAll(context, { x, c, y: previous });
        await runDispatches(context, 'lrp product', [await lrpProduct(context, io, { count, sign: -1, accumulate })]);
        const expected = reference.product(x, c, -1, accumulate ? previous : undefined);
        // Two roundings (x·c, then the sum).
        expectAllClose(await read(context, io.y, count), expected, { abs: 2 ** -24, rel: 2 ** -22 }, `product accumulate ${accumulate}`);
        const added = await uploadAll(context, { x, y: previous });
        await runDispatches(context, 'lrp add', [await lrpAdd(context, added, { count, sign: 1, accumulate })]);
        expectAllClose(await read(context, added.y, count), reference.product(x, undefined, 1, accumulate ? previous : undefined), ONE_OP, 'add');
      }
    });
  }
});
