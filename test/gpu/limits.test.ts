import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocate } from '../../src/gpu/buffers.ts';
import { CommandBatch } from '../../src/gpu/commands.ts';
import { GpuContext } from '../../src/gpu/device.ts';
import { GALLIVM_LOOP_ITERATIONS, rowReduceIterations } from '../../src/gpu/limits.ts';
import { activationForward } from '../../src/kernels/activation.ts';
import { conv2dForward, type Conv2dDims } from '../../src/kernels/conv2d.ts';
import { gemm } from '../../src/kernels/gemm.ts';
import { maxPoolForward } from '../../src/kernels/pool.ts';
import { softmaxForward } from '../../src/kernels/softmax.ts';
import { WORKGROUP_SIZE } from '../../src/kernels/wgsl.ts';
import { SOFTWARE_ADAPTERS } from '../helpers/adapters.ts';
import { expectAllClose } from '../helpers/close.ts';
import { read, runDispatches, uploadAll } from '../helpers/run.ts';
import { conv2d } from '../reference/conv2d.ts';
import { gemmForward } from '../reference/gemm.ts';
import { randomTensor } from '../reference/random.ts';

/**
 * Every kernel family just below and just above each device limit, on both software adapters. The loop budget is set
 * to gallivm's real guard (65,535, no reserve), so on llvmpipe a dispatch stated "just below" passes only if the
 * wrappers' iteration counts really bound what the guard counts: an undercount would truncate a sum and fail here.
 */

const F32_SUM = { abs: 1e-4, rel: 1e-4 };

async function expectDeviceLimit(promise: Promise<unknown>): Promise<void> {
  await expect(promise).rejects.toMatchObject({ code: 'DEVICE_LIMIT' });
}

for (const adapter of SOFTWARE_ADAPTERS) {
  describe(`device limits on ${adapter.name}`, () => {
    let context: GpuContext;
    beforeAll(async () => {
      context = await GpuContext.open({ ...adapter.options, loopBudget: GALLIVM_LOOP_ITERATIONS });
    });
    afterAll(() => context.destroy());

    /** The largest K (a multiple of the 16-deep K step) whose 1×1 GEMM is one dispatch. */
    /** The deepest K one dispatch sums for an M×N product (the tile, and so the cost per K step, follows M). */
    async function largestUnsplitK(m = 1, n = 1): Promise<number> {
      const io = await uploadAll(context, { a: [0], b: [0], c: [0] });
      let k = 16;
      while ((await gemm(context, io, { m, n, k: k + 16, kernel: 'tiled' })).length === 1) k += 16 * Math.max(1, Math.floor(k / 1024));
      while ((await gemm(context, io, { m, n, k, kernel: 'tiled' })).length > 1) k -= 16;
      Object.values(io).forEach((buffer) => buffer.destroy());
      return k;
    }

    it('GEMM sums of any depth: one dispatch up to the loop budget, split beyond it, every term summed', async () => {
      const kMax = await largestUnsplitK();
      for (const [k, parts] of [
        [kMax, 1],
        [kMax + 16, 2],
        [5 * kMax + 48, 6],
      ] as const) {
        const io = await uploadAll(context, { a: new Float32Array(k).fill(1), b: new Float32Array(k).fill(1), c: [0] });
        const dispatches = await gemm(context, io, { m: 1, n: 1, k, kernel: 'tiled' });
        expect(dispatches.length, `K = ${k}`).toBe(parts);
        expect(Math.max(...dispatches.map((d) => d.iterations))).toBeLessThanOrEqual(GALLIVM_LOOP_ITERATIONS);
        await runDispatches(context, 'gemm limits', dispatches);
        expect((await read(context, io.c, 1))[0], `Σ of ${k} ones`).toBe(k);
        Object.values(io).forEach((buffer) => buffer.destroy());
      }
    });

    it('gemm_direct (an autotune candidate): the longest unsplit sum just below the loop budget is whole, one more is split', async () => {
      const io = await uploadAll(context, { a: [0], b: [0], c: [0] });
      let k = 4;
      while ((await gemm(context, io, { m: 1, n: 1, k: k + 4, kernel: 'direct' })).length === 1) k += 4 * Math.max(1, Math.floor(k / 1024));
      while ((await gemm(context, io, { m: 1, n: 1, k, kernel: 'direct' })).length > 1) k -= 4;
      Object.values(io).forEach((buffer) => buffer.destroy());
      for (const [depth, parts] of [
        [k, 1],
        [k + 4, 2],
      ] as const) {
        const ones = await uploadAll(context, { a: new Float32Array(depth).fill(1), b: new Float32Array(depth).fill(1), c: [0] });
        const dispatches = await gemm(context, ones, { m: 1, n: 1, k: depth, kernel: 'direct' });
        expect(dispatches.length, `K = ${depth}`).toBe(parts);
        expect(Math.max(...dispatches.map((d) => d.iterations))).toBeLessThanOrEqual(GALLIVM_LOOP_ITERATIONS);
        await runDispatches(context, 'gemm_direct limits', dispatches);
        expect((await read(context, ones.c, 1))[0], `Σ of ${depth} ones`).toBe(depth);
        Object.values(ones).forEach((buffer) => buffer.destroy());
      }
    });

    it('a split GEMM applies the bias and the fused ReLU once, to the whole sum', async () => {
      const k = (await largestUnsplitK(3, 5)) + 48;
      const d = {
        m: 3,
        n: 5,
        k,
        batch: 1,
        transA: false,
        transB: true,
        alpha: 1,
        aBatchStride: 3 * k,
        bBatchStride: 5 * k,
        biasShape: [5],
        beta: 1,
        relu: true,
      };
      const x = { a: randomTensor(3 * k, 1), b: randomTensor(5 * k, 2), bias: randomTensor(5, 3), c: new Float32Array(15) };
      const io = await uploadAll(context, x);
      const dispatches = await gemm(context, io, { ...d, activation: 'relu', kernel: 'tiled' });
      expect(dispatches.length).toBe(2);
      await runDispatches(context, 'split gemm', dispatches);
      // K ≈ 31,000 random products: f32 rounding ~√K·2⁻²⁴ of Σ|ab| ≈ 1e-5 relative.
      expectAllClose(await read(context, io.c, 15), gemmForward(d, x.a, x.b, x.bias), F32_SUM);
      Object.values(io).forEach((buffer) => buffer.destroy());
    });

    it('convolutions: correct just below the loop budget, refused just above it', async () => {
      const dims = (inChannels: number): Conv2dDims => ({
        batch: 1,
        inChannels,
        height: 3,
        width: 3,
        outChannels: 4,
        kernelHeight: 3,
        kernelWidth: 3,
        pads: [1, 1, 1, 1],
      });
      const placeholders = await uploadAll(context, { x: [0], w: [0], y: [0] });
      const iterations = async (inChannels: number) => (await conv2dForward(context, placeholders, dims(inChannels))).iterations;
      let low = 1;
      let high = 8192;
      while (high - low > 1) {
        const middle = Math.floor((low + high) / 2);
        if ((await iterations(middle)) <= GALLIVM_LOOP_ITERATIONS) low = middle;
        else high = middle;
      }
      Object.values(placeholders).forEach((buffer) => buffer.destroy());
      const below = dims(low);
      const x = randomTensor(low * 9, 4);
      const w = randomTensor(4 * low * 9, 5);
      const io = await uploadAll(context, { x, w, y: new Float32Array(4 * 9) });
      await runDispatches(context, 'conv just below', [await conv2dForward(context, io, below)]);
      const shape = {
        ...below,
        strides: [1, 1] as [number, number],
        dilations: [1, 1] as [number, number],
        pads: [1, 1, 1, 1] as [number, number, number, number],
        group: 1,
      };
      expectAllClose(await read(context, io.y, 36), conv2d(shape, x, w), F32_SUM);
      await expectDeviceLimit(runDispatches(context, 'conv just above', [await conv2dForward(context, io, dims(high))]));
      Object.values(io).forEach((buffer) => buffer.destroy());
    });

    it('pooling windows: a 254×254 window (the most within the loop budget) is right, a 255×255 one refused', async () => {
      for (const k of [254, 255]) {
        const x = randomTensor(k * k, k);
        const io = await uploadAll(context, { x, y: [0], argmax: [0] });
        const dispatch = await maxPoolForward(context, io, { batch: 1, channels: 1, height: k, width: k, kernelShape: [k, k] });
        if (k === 255) {
          await expectDeviceLimit(runDispatches(context, 'pool just above', [dispatch]));
        } else {
          await runDispatches(context, 'pool just below', [dispatch]);
          expect((await read(context, io.y, 1))[0]).toBe(x.reduce((m, v) => Math.max(m, v), -Infinity));
        }
        Object.values(io).forEach((buffer) => buffer.destroy());
      }
    });

    it('softmax rows: the longest row within the loop budget is right, one more block refused', async () => {
      // A workgroup of invocations per row, each walking its share 3 times (max, sum, write), with 2 tree reductions
      // (the plain tree's or the subgroups variant's, by what this device runs).
      const tree = rowReduceIterations(WORKGROUP_SIZE, context.kernels.variant('softmax'));
      const blocks = Math.floor((GALLIVM_LOOP_ITERATIONS - 2 * tree - 3) / 3);
      for (const axisSize of [blocks * WORKGROUP_SIZE, (blocks + 1) * WORKGROUP_SIZE]) {
        const x = randomTensor(axisSize, 9, 4);
        const io = await uploadAll(context, { x, y: new Float32Array(axisSize) });
        const dispatch = await softmaxForward(context, io, { outer: 1, axisSize, inner: 1, op: 'softmax' });
        if (axisSize > blocks * WORKGROUP_SIZE) {
          await expectDeviceLimit(runDispatches(context, 'softmax just above', [dispatch]));
        } else {
          await runDispatches(context, 'softmax just below', [dispatch]);
          const y = await read(context, io.y, axisSize);
          let max = -Infinity;
          for (const v of x) max = Math.max(max, v);
          let total = 0;
          for (const v of x) total += Math.exp(v - max);
          // The last elements are the ones a truncated walk would miss.
          for (const i of [0, axisSize - 1, axisSize - 2]) expect(y[i]! / (Math.exp(x[i]! - max) / total)).toBeCloseTo(1, 3);
        }
        Object.values(io).forEach((buffer) => buffer.destroy());
      }
    });

    it('workgroups per dimension: a 1-D grid up to the limit, a 2-D grid beyond it, a raw dispatch over it refused', async () => {
      const max = context.device.limits.maxComputeWorkgroupsPerDimension;
      for (const count of [max * WORKGROUP_SIZE, max * WORKGROUP_SIZE + 1]) {
        const x = new Float32Array(count);
        x[count - 1] = -2;
        x[count - 2] = 3;
        const io = await uploadAll(context, { x, y: new Float32Array(count).fill(7) });
        const dispatch = await activationForward(context, io, { count, op: 'relu' });
        expect(dispatch.workgroups[1], `${count} elements`).toBe(count > max * WORKGROUP_SIZE ? 2 : 1);
        await runDispatches(context, 'wide relu', [dispatch]);
        const y = await read(context, io.y, count);
        expect([y[0], y[count - 2], y[count - 1]]).toEqual([0, 3, 0]);
        await expectDeviceLimit(runDispatches(context, 'too many workgroups', [{ ...dispatch, workgroups: [max + 1, 1, 1] }]));
        Object.values(io).forEach((buffer) => buffer.destroy());
      }
    });

    it('storage binding size: a buffer past the binding limit is refused by name', async () => {
      const limit = Math.min(context.device.limits.maxStorageBufferBindingSize, context.device.limits.maxBufferSize);
      await expect(allocate(context.device, [{ label: 'too large', size: limit + 4 }])).rejects.toMatchObject({ code: 'BUFFER_TOO_LARGE' });
      if (context.device.limits.maxBufferSize > context.device.limits.maxStorageBufferBindingSize) {
        // llvmpipe: buffers may be larger than a binding; binding one is refused before any submit.
        const big = context.device.createBuffer({ size: context.device.limits.maxStorageBufferBindingSize + 4, usage: GPUBufferUsage.STORAGE });
        const kernel = await context.kernels.kernel('activation', 'activation_forward', { OP: 0, RULE: 0 });
        const y = (await uploadAll(context, { y: [0] })).y;
        expect(() => kernel.bind(context.device, { params: { count: 1, alpha: 0, beta: 0 }, x: big, y })).toThrowError(
          expect.objectContaining({ code: 'DEVICE_LIMIT' }),
        );
        big.destroy();
        y.destroy();
      }
    });

    it('storage buffers per stage: a kernel at the limit builds, one past it is refused by name', async () => {
      const limit = context.device.limits.maxStorageBuffersPerShaderStage;
      const module = (buffers: number) =>
        Array.from({ length: buffers }, (_, i) => `@group(0) @binding(${i}) var<storage, read_write> b${i}: array<f32>;`).join('\n') +
        `\n@compute @workgroup_size(1) fn touch() {\n${Array.from({ length: buffers }, (_, i) => `  b${i}[0] = 1.0;`).join('\n')}\n}\n`;
      context.kernels.define('at-limit', module(limit));
      context.kernels.define('past-limit', module(limit + 1));
      await expect(context.kernels.kernel('at-limit', 'touch')).resolves.toBeDefined();
      await expectDeviceLimit(context.kernels.kernel('past-limit', 'touch'));
    });
  });
}

describe('the loop budget of an adapter', () => {
  it("is gallivm's guard less a reserve on llvmpipe, and none on SwiftShader", async () => {
    for (const adapter of SOFTWARE_ADAPTERS) {
      const context = await GpuContext.open(adapter.options);
      const expected = adapter.options.backend === 'opengles' ? Math.floor(0.9 * GALLIVM_LOOP_ITERATIONS) : null;
      expect(context.report.loopBudget, adapter.name).toBe(expected);
      context.destroy();
    }
  });
});
