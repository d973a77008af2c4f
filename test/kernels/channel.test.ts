import { describe, expect, it } from 'vitest';
import { gridFor, type Dispatch } from '../../src/gpu/commands.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import { batchNormBackward, batchNormForward, batchNormToAffine } from '../../src/kernels/channel.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { read, runDispatches, uploadAll, zeros } from '../helpers/run.ts';
import { batchNormBackward as referenceBackward, batchNormForward as referenceForward, type BatchNormParams } from '../reference/channel.ts';
import { numericGradient } from '../reference/finite-difference.ts';
import { randomTensor } from '../reference/random.ts';
import { WORKGROUP_SIZE } from '../../src/kernels/wgsl.ts';

// Against the unfolded float64 definition: scale and shift rounded to f32, then x·scale and + shift rounded:
// four roundings of 2⁻²⁴ on terms up to ~11 (|x| ≤ 1, scale ≤ 1.5/√0.1, |shift| ≤ 1 + scale).
const FORWARD = { abs: 3e-6, rel: 3e-7 };
// dy·fl(scale): two roundings.
const BACKWARD = { abs: 0, rel: 2.5e-7 };

/** [x's shape, ε]: batch 1 and > 1, rank 2 to 5, one channel, 1×1 spatial, ONNX's default ε and a larger one. */
const CASES: [number[], number][] = [
  [[1, 3, 5, 7], 1e-5],
  [[2, 4, 3, 5], 1e-5],
  [[3, 5], 1e-5],
  [[2, 3, 2, 3, 5], 1e-3],
  [[2, 1, 7], 1e-5],
  [[4, 6, 1, 1], 1e-3],
];

const size = (shape: readonly number[]) => shape.reduce((n, e) => n * e, 1);

/** Statistics of order 1, the variance in [0.1, 2] and γ in ±[0.5, 1.5]. */
function statistics(channels: number, seed: number, epsilon: number): BatchNormParams {
  const gamma = randomTensor(channels, seed).map((v) => Math.sign(v || 1) * (0.5 + Math.abs(v)));
  const variance = randomTensor(channels, seed + 1).map((v) => 0.1 + 0.95 * (v + 1));
  return { gamma, beta: randomTensor(channels, seed + 2), mean: randomTensor(channels, seed + 3), variance, epsilon };
}

function affineOf(p: BatchNormParams) {
  return batchNormToAffine(p.gamma, p.beta, p.mean, p.variance, p.epsilon);
}

async function forwardOnGpu(context: GpuContext, shape: number[], x: Float32Array, p: BatchNormParams, layout = (d: Dispatch) => d) {
  const buffers = { ...(await uploadAll(context, { x, ...affineOf(p) })), y: await zeros(context, 'y', x.length) };
  await runDispatches(context, 'batch norm', [layout(await batchNormForward(context, buffers, { shape }))]);
  return read(context, buffers.y, x.length);
}

async function backwardOnGpu(context: GpuContext, shape: number[], gradY: Float32Array, p: BatchNormParams, initial?: Float32Array) {
  const buffers = await uploadAll(context, { gradY, scale: affineOf(p).scale, gradX: initial ?? new Float32Array(gradY.length) });
  await runDispatches(context, 'batch norm backward', [await batchNormBackward(context, buffers, { shape, accumulate: initial !== undefined })]);
  return read(context, buffers.gradX, gradY.length);
}

describe('batchNormToAffine', () => {
  it('rounds the float64 scale γ/√(σ² + ε) and shift β − μ·scale once to float32', () => {
    const p = statistics(5, 1, 1e-5);
    const { scale, shift } = affineOf(p);
    expect(scale).toBeInstanceOf(Float32Array);
    const s = Array.from(p.gamma, (g, c) => g / Math.sqrt(p.variance[c]! + p.epsilon));
    expect([...scale]).toEqual(s.map(Math.fround));
    expect([...shift]).toEqual(s.map((v, c) => Math.fround(p.beta[c]! - p.mean[c]! * v)));
  });

  it('refuses parameters of different lengths', () => {
    expect(() => batchNormToAffine([1, 1], [0, 0], [0], [1, 1])).toThrow(/one length/);
  });
});

describe('batch normalization against the float64 reference', () => {
  CASES.forEach(([shape, epsilon], c) => {
    const p = statistics(shape[1]!, 10 * c, epsilon);

    it(`[${shape}] ε ${epsilon}: forward`, async () => {
      const x = randomTensor(size(shape), 10 * c + 5);
      expectAllClose(await forwardOnGpu(await testContext(), shape, x, p), referenceForward(x, shape, p), FORWARD);
    });

    it(`[${shape}] ε ${epsilon}: input gradient`, async () => {
      const gradY = randomTensor(size(shape), 10 * c + 6);
      expectAllClose(await backwardOnGpu(await testContext(), shape, gradY, p), referenceBackward(gradY, shape, p), BACKWARD);
    });
  });

  it('refuses x of rank 1', async () => {
    const context = await testContext();
    const buffers = await uploadAll(context, { x: [1], scale: [1], shift: [0], y: [0] });
    await expect(batchNormForward(context, buffers, { shape: [4] })).rejects.toThrow(/rank ≥ 2/);
  });
});

it('batch normalization backward with accumulate adds into the existing gradient', async () => {
  const context = await testContext();
  const shape = [2, 3, 5, 7];
  const p = statistics(3, 4, 1e-5);
  const gradY = randomTensor(size(shape), 8);
  const initial = randomTensor(size(shape), 9, 4);
  const alone = await backwardOnGpu(context, shape, gradY, p);
  expect([...(await backwardOnGpu(context, shape, gradY, p, initial))]).toEqual([...alone].map((v, i) => Math.fround(v + initial[i]!)));
});

it('batch normalization on a 2-D grid of workgroups covers every element', async () => {
  // A narrow maximum per dimension forces the y dimension that tensors past 65535 workgroups get.
  const shape = [2, 5, 9, 11];
  const p = statistics(5, 6, 1e-5);
  const x = randomTensor(size(shape), 7);
  const y = await forwardOnGpu(await testContext(), shape, x, p, (d) => ({ ...d, workgroups: gridFor(x.length, WORKGROUP_SIZE, 3) }));
  expectAllClose(y, referenceForward(x, shape, p), FORWARD);
});

it('batch normalization reference backward matches central finite differences', () => {
  // The map is affine: only rounding, 1e-16·|L|/h.
  const shape = [2, 3, 2, 2];
  const p = statistics(3, 2, 1e-5);
  const x = randomTensor(size(shape), 3);
  const seed = randomTensor(size(shape), 4);
  const numeric = numericGradient((z) => referenceForward(z, shape, p), x, seed);
  expectAllClose(referenceBackward(seed, shape, p), numeric, { abs: 1e-8, rel: 1e-8 });
});
