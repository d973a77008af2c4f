import { describe, expect, it } from 'vitest';
import { integrate, type EngineOptions, type PointSpec } from '../../src/attribution/engine.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import type { Graph } from '../../src/graph/ir.ts';
import { linearPrefix } from '../../src/graph/linear-prefix.ts';
import { Model } from '../../src/graph/model.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { randomTensor } from '../reference/random.ts';

/**
 * (x − mean) / std per pixel, conv → Relu (or max pool, a prefix that no Relu reads) → conv → Relu → max pool → dense:
 * the shape of most image classifiers.
 */
function cnn(firstRelu: boolean): Graph {
  const b = new GraphBuilder('prefix-cnn', 5);
  let x = b.input([3, 10, 10]);
  x = b.node('Sub', [x, b.constant(Float32Array.of(0.4, 0.5, 0.6), [3, 1, 1], 'mean')]);
  x = b.node('Div', [x, b.constant(Float32Array.of(0.2, 0.25, 0.3), [3, 1, 1], 'std')]);
  x = b.conv(x, { channels: 6, kernel: 3 }, 'conv1');
  x = firstRelu ? b.relu(x, 'relu1') : b.maxPool(x, { kernel: 2 }, 'pool1');
  x = b.relu(b.conv(x, { channels: 4, kernel: 3 }, 'conv2'), 'relu2');
  x = b.maxPool(x, { kernel: 2 }, 'pool');
  return b.build(b.gemm(b.node('Flatten', [x], { axis: 1 }), 5, {}, 'fc'));
}

describe('linearPrefix', () => {
  it('follows the affine ops from the input and stops at the first other one, taking the Relu that reads the end', () => {
    expect(linearPrefix(cnn(true))).toEqual({ end: 'conv1', site: 'relu1', masked: true, size: 6 * 10 * 10 });
    expect(linearPrefix(cnn(false))).toEqual({ end: 'conv1', site: 'conv1', masked: false, size: 6 * 10 * 10 });
  });

  it('finds none where the input is read twice, the first op is not affine, or the chain reaches the output', () => {
    const twice = new GraphBuilder('residual', 2);
    const x = twice.input([4]);
    expect(linearPrefix(twice.build(twice.node('Add', [twice.gemm(x, 4), x])))).toBeUndefined();
    const tanh = new GraphBuilder('tanh-first', 2);
    expect(linearPrefix(tanh.build(tanh.gemm(tanh.node('Tanh', [tanh.input([4])]), 3)))).toBeUndefined();
    const only = new GraphBuilder('one-layer', 2);
    expect(linearPrefix(only.build(only.gemm(only.input([4]), 3)))).toBeUndefined();
  });

  it('takes a dense layer and its Relu in a multilayer perceptron', () => {
    const b = new GraphBuilder('mlp', 2);
    const graph = b.build(b.gemm(b.relu(b.gemm(b.input([4]), 3, {}, 'fc1'), 'relu1'), 2));
    expect(linearPrefix(graph)).toEqual({ end: 'fc1', site: 'relu1', masked: true, size: 3 });
  });

  it('finds none for a product of the input with itself, or a Div by the input', () => {
    const square = new GraphBuilder('square', 2);
    const x = square.input([4]);
    expect(linearPrefix(square.build(square.gemm(square.node('Mul', [x, x]), 2)))).toBeUndefined();
    const over = new GraphBuilder('over', 2);
    const y = over.input([4]);
    expect(linearPrefix(over.build(over.gemm(over.node('Div', [over.constant(Float32Array.of(1), [1]), y]), 2)))).toBeUndefined();
  });
});

describe('folding the gradients at the prefix', () => {
  const count = 2;
  const size = 3 * 10 * 10;
  const x = randomTensor(count * size, 7, 1);
  const baseline = randomTensor(count * size, 8, 0.5);
  const targets = Int32Array.of(3, 1);
  const path = { alphas: [0.1, 0.3, 0.5, 0.7, 0.9], weights: [0.2, 0.2, 0.2, 0.2, 0.2] };
  const base: PointSpec = {
    inputs: x,
    count,
    baselines: { perInput: baseline },
    path,
    samples: 1,
    stdev: new Float32Array(count),
    multiply: 'input-minus-baseline',
    combine: 'mean',
    seed: 3,
  };
  const cases: [string, Partial<PointSpec>][] = [
    ['integrated gradients, × (x − b)', {}],
    ['a path × x', { multiply: 'input' }],
    [
      'SmoothGrad (noise, nothing multiplied)',
      { path: { alphas: [1], weights: [1] }, samples: 6, stdev: Float32Array.of(0.3, 0.2), multiply: 'none' },
    ],
    ['IG in a noise tunnel, plain gradients', { samples: 3, stdev: Float32Array.of(0.3, 0.2), multiply: 'none' }],
  ];

  for (const firstRelu of [true, false]) {
    for (const [name, overrides] of cases) {
      it(`${name}${firstRelu ? '' : ', no Relu after the prefix'}: the same as at the input, in one chunk and in several`, async () => {
        const model = await Model.create(await testContext(), cnn(firstRelu));
        const spec = { ...base, ...overrides };
        const options: EngineOptions = { targets, score: 'logit' };
        const atInput = await integrate(model, spec, { ...options, foldAtPrefix: false });
        const prefix = linearPrefix(model.graph)!;
        const backwardPlan = { batch: count, objective: 'given' as const, output: prefix.end, backwardOnly: true };
        expect(model.hasPlan(backwardPlan)).toBe(false);
        for (const chunkSize of [undefined, 3]) {
          const folded = await integrate(model, spec, { ...options, chunkSize });
          expectAllClose(folded.attribution, atInput.attribution, { abs: 1e-6, rel: 1e-4 }, `${name}, chunk ${chunkSize ?? 'all'}`);
        }
        // The fold ran: the prefix's backward plan was made for the inputs, and runs no forward kernel.
        expect(model.hasPlan(backwardPlan)).toBe(true);
        const kernels = (await model.cachedPlan(backwardPlan)).dispatches.map((d) => d.bound.kernel.name);
        expect(kernels.length).toBeGreaterThan(0);
        expect(kernels.filter((name) => name.includes('forward'))).toEqual([]);
        model.destroy();
      });
    }
  }

  it('keeps the fold at the input where it would change the result: squares, absolute values, noise times the input', async () => {
    const model = await Model.create(await testContext(), cnn(true));
    const prefix = linearPrefix(model.graph)!;
    const noisy = { samples: 3, stdev: Float32Array.of(0.3, 0.2) };
    for (const overrides of [
      { ...noisy, combine: 'mean-square' as const, multiply: 'none' as const },
      { ...noisy, path: { alphas: [1], weights: [1] }, absolute: true, multiply: 'none' as const },
      { ...noisy, multiply: 'input-minus-baseline' as const },
    ]) {
      await integrate(model, { ...base, ...overrides }, { targets, score: 'logit' });
      expect(model.hasPlan({ batch: count, objective: 'given', output: prefix.end, backwardOnly: true })).toBe(false);
    }
    model.destroy();
  });
});
