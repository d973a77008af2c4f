import { describe, expect, it } from 'vitest';
import { integrate, type PointSpec } from '../../src/attribution/engine.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import { Model } from '../../src/graph/model.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { engineNormal, philox4x32 } from '../reference/philox.ts';
import { randomTensor } from '../reference/random.ts';

const hex = (words: number[]) => words.map((w) => w.toString(16).padStart(8, '0'));

describe('Philox4x32-10 reference', () => {
  it('matches Random123 known-answer vectors', () => {
    expect(hex(philox4x32([0, 0, 0, 0], [0, 0]))).toEqual(['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
    expect(hex(philox4x32([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]))).toEqual([
      '408f276d',
      '41c83b0e',
      'a20bc7c6',
      '6d5451fd',
    ]);
    expect(hex(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]))).toEqual([
      'd16cfe09',
      '94fdcceb',
      '5001e420',
      '24126ea1',
    ]);
  });
});

/** logits = W x + c: every gradient method has a closed form here (saliency W_t, IG (x − b) ⊙ W_t). */
function linearModel(features: number, classes: number) {
  const b = new GraphBuilder('linear', 4);
  const x = b.input([features]);
  const graph = b.build(b.gemm(x, classes, {}, 'logits'));
  const weight = [...graph.constants.values()].find((c) => c.shape.length === 2)!.data;
  return { graph, row: (t: number) => weight.slice(t * features, (t + 1) * features) };
}

const gaussLegendre4 = {
  alphas: [0.0694318442, 0.3300094782, 0.6699905218, 0.9305681558],
  weights: [0.1739274226, 0.3260725774, 0.3260725774, 0.1739274226],
};

function spec(inputs: Float32Array, count: number, overrides: Partial<PointSpec> = {}): PointSpec {
  return {
    inputs,
    count,
    baselines: { perInput: new Float32Array(inputs.length) },
    path: { alphas: [1], weights: [1] },
    samples: 1,
    stdev: new Float32Array(count),
    multiply: 'none',
    combine: 'mean',
    seed: 1,
    ...overrides,
  };
}

describe('attribution engine on a linear model', () => {
  const features = 7;
  const { graph, row } = linearModel(features, 3);
  const x = randomTensor(2 * features, 41, 2);
  const targets = Int32Array.of(2, 0);
  const expectedRows = [...row(2), ...row(0)];

  it('a single point with weight 1 gives the gradient: W_t per input', async () => {
    const model = await Model.create(await testContext(), graph);
    const { attribution } = await integrate(model, spec(x, 2), { targets, score: 'logit' });
    expectAllClose(attribution, expectedRows, { abs: 1e-6, rel: 1e-6 }, 'saliency');
  });

  it('integrated gradients with a baseline: (x − b) ⊙ W_t exactly, weights summing to 1', async () => {
    const model = await Model.create(await testContext(), graph);
    const baseline = randomTensor(2 * features, 42);
    const request = spec(x, 2, { baselines: { perInput: baseline }, path: gaussLegendre4, multiply: 'input-minus-baseline' });
    const { attribution } = await integrate(model, request, { targets, score: 'logit' });
    expectAllClose(
      attribution,
      expectedRows.map((w, i) => w * (x[i]! - baseline[i]!)),
      { abs: 1e-5, rel: 1e-5 },
      'IG',
    );
  });

  it('the same result whatever the chunk size', async () => {
    const model = await Model.create(await testContext(), graph);
    const request = spec(x, 2, { path: gaussLegendre4, multiply: 'input-minus-baseline', samples: 3, stdev: Float32Array.of(0.5, 0.2) });
    const whole = await integrate(model, request, { targets, score: 'logit' });
    for (const chunkSize of [1, 5, 7]) {
      const chunked = await integrate(model, request, { targets, score: 'logit', chunkSize });
      expect(chunked.chunks).toBe(Math.ceil(24 / chunkSize));
      expectAllClose(chunked.attribution, whole.attribution, { abs: 1e-6, rel: 1e-6 }, `chunk ${chunkSize}`);
    }
  });

  it('noise comes from Philox: mean over samples of W_t ⊙ (x + σε) matches the reference stream', async () => {
    const model = await Model.create(await testContext(), graph);
    const [samples, sigma, seed] = [5, 0.3, 123456789012];
    const request = spec(x, 2, { samples, stdev: Float32Array.of(sigma, sigma), multiply: 'input', seed });
    const { attribution } = await integrate(model, request, { targets, score: 'logit' });
    const expected = expectedRows.map((w, flat) => {
      const [i, e] = [Math.floor(flat / features), flat % features];
      let mean = 0;
      for (let s = 0; s < samples; s++) mean += (x[flat]! + sigma * engineNormal(seed, e, s, i)) / samples;
      return w * mean;
    });
    // box_muller (shaders/lib/philox.wgsl) computes ln and cos to f32 accuracy: ε within a few ulps of |ε| ≤ 5.8
    // (u ≥ 2^-24) of the float64 reference, not WGSL's 2^-11 of cos. A different stream would be off by σ·|W|.
    const peak = Math.max(...expectedRows.map(Math.abs));
    expectAllClose(attribution, expected, { abs: sigma * 4e-6 * peak, rel: 1e-5 }, 'noise');
  });

  it('reports progress up to the total and stops when aborted', async () => {
    const model = await Model.create(await testContext(), graph);
    const request = spec(x, 2, { path: gaussLegendre4, samples: 2 });
    const seen: number[] = [];
    await integrate(model, request, { targets, score: 'logit', chunkSize: 4, onProgress: ({ done, total }) => seen.push(done / total) });
    expect(seen).toEqual([0.25, 0.5, 0.75, 1]);
    const controller = new AbortController();
    const run = integrate(model, request, { targets, score: 'logit', chunkSize: 4, signal: controller.signal, onProgress: () => controller.abort() });
    await expect(run).rejects.toThrow(/abort/i);
  });
});
