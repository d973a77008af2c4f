import { afterAll, describe, expect, it } from 'vitest';
import { explain } from '../../src/attribution/explain.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import type { Graph } from '../../src/graph/ir.ts';
import { Model } from '../../src/graph/model.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { referenceForward, referenceGradients } from '../reference/graph.ts';
import { randomTensor } from '../reference/random.ts';

/**
 * Targets inside sequence and dense outputs (issue 13): a time step's class of a [steps, classes] output, a region or a
 * mask of a [channels, height, width] map. Each is the gradient of Σ seed ⊙ output for its one-hot or mask seed, checked
 * against the float64 reference graph; integrated gradients keeps completeness for it.
 */

/** A CTC-like head: [1, 4, 10] → Conv → [5, 4, 10] → mean over height → [10 steps, 5 classes] → softmax per step. */
function sequenceModel(): Graph {
  const b = new GraphBuilder('sequence', 3);
  const x = b.input([1, 4, 10]);
  const features = b.node('Tanh', [b.conv(x, { channels: 5, kernel: 3 })]);
  const columns = b.node('ReduceMean', [features], { axes: [2], keepdims: 0 });
  return b.build(b.node('Softmax', [b.node('Transpose', [columns], { perm: [0, 2, 1] })], { axis: 2 }));
}

/** A segmentation-like map: [2, 6, 8] → Conv, Tanh → Conv → [3, 6, 8]. */
function denseModel(): Graph {
  const b = new GraphBuilder('dense', 5);
  const x = b.input([2, 6, 8]);
  return b.build(b.conv(b.node('Tanh', [b.conv(x, { channels: 4, kernel: 3 })]), { channels: 3, kernel: 3 }));
}

const models: Model[] = [];
afterAll(() => models.forEach((model) => model.destroy()));
async function modelOf(graph: Graph): Promise<Model> {
  const model = await Model.create(await testContext(), graph);
  models.push(model);
  return model;
}

/** The float64 gradient of Σ seed ⊙ output at each input (seed: one sample's output weights). */
function referenceGradient(graph: Graph, inputs: Float32Array, count: number, seed: Float64Array): Float64Array {
  const values = referenceForward(graph, inputs, count);
  const seeds = new Float64Array(values.get(graph.output)!.length);
  for (let i = 0; i < count; i++) seeds.set(seed, i * seed.length);
  return referenceGradients(graph, values, seeds, count).get(graph.input)!;
}

const peakOf = (values: ArrayLike<number>) => Array.from(values).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
// float32 kernels against float64: the gradients are O(1e-2); 1e-4 of the peak covers the reordered sums.
const close = (expected: ArrayLike<number>) => ({ abs: 1e-4 * peakOf(expected), rel: 0 });

describe('a time step and class of a sequence output', () => {
  const graph = sequenceModel();
  const inputs = randomTensor(2 * 40, 11);

  it('is the gradient of that one output element, for every input', async () => {
    const model = await modelOf(graph);
    const result = await explain(model, inputs, 2, { method: 'saliency', absolute: false, target: { step: 6, class: 3 } });
    const seed = new Float64Array(50);
    seed[6 * 5 + 3] = 1;
    expectAllClose(result.attribution, referenceGradient(graph, inputs, 2, seed), close(result.attribution), 'step 6, class 3');
    expect([...result.target]).toEqual([33, 33]);
    expect(result.outputTarget).toEqual([
      { step: 6, class: 3 },
      { step: 6, class: 3 },
    ]);
  });

  it("'top1' takes that step's most probable class per input, and records it", async () => {
    const model = await modelOf(graph);
    const result = await explain(model, inputs, 2, { method: 'saliency', target: { step: 2, class: 'top1' } });
    const outputs = referenceForward(graph, inputs, 2).get(graph.output)!;
    const best = [0, 1].map((i) => {
      const row = Array.from(outputs.subarray(i * 50 + 10, i * 50 + 15));
      return row.indexOf(Math.max(...row));
    });
    expect(result.outputTarget).toEqual(best.map((c) => ({ step: 2, class: c })));
    expect([...result.score]).toEqual(best.map((c, i) => expect.closeTo(outputs[i * 50 + 10 + c]!, 6)));
  });

  it('one per input: each input its own step and class (every character of one line in one call)', async () => {
    const model = await modelOf(graph);
    const targets = [
      { step: 1, class: 4 },
      { step: 8, class: 0 },
    ];
    const result = await explain(model, inputs, 2, { method: 'saliency', absolute: false, target: targets });
    expect(result.outputTarget).toEqual(targets);
    const values = referenceForward(graph, inputs, 2);
    const seeds = new Float64Array(100);
    seeds[9] = 1; // input 0: step 1, class 4
    seeds[50 + 40] = 1; // input 1: step 8, class 0
    const expected = referenceGradients(graph, values, seeds, 2).get(graph.input)!;
    expectAllClose(result.attribution, expected, close(expected), 'per-input steps');
  });

  it('integrated gradients keeps completeness for it: Σ attribution = f(x) − f(0) within 1%', async () => {
    const model = await modelOf(graph);
    const result = await explain(model, inputs, 2, { method: 'integrated-gradients', steps: 64, target: { step: 4, class: 1 } });
    const values = referenceForward(graph, inputs, 2).get(graph.output)!;
    const zero = referenceForward(graph, new Float32Array(80), 2).get(graph.output)!;
    for (let i = 0; i < 2; i++) {
      const change = values[i * 50 + 21]! - zero[i * 50 + 21]!;
      const sum = result.attribution.subarray(i * 40, (i + 1) * 40).reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - change), `input ${i}: Σ ${sum}, f(x) − f(0) ${change}`).toBeLessThan(0.01 * Math.abs(change));
      expect(Math.abs(result.delta![i]!)).toBeLessThan(0.01 * Math.abs(change));
    }
  });
});

describe('a region or a mask of a dense output', () => {
  const graph = denseModel();
  const inputs = randomTensor(2 * 96, 17);
  const region = { region: [2, 1, 6, 4] as const, channel: 1 };
  const regionSeed = new Float64Array(144).map((_, k) => {
    const [c, y, x] = [Math.floor(k / 48), Math.floor(k / 8) % 6, k % 8];
    return Number(c === 1 && x >= 2 && x < 6 && y >= 1 && y < 4);
  });

  it('a region is the gradient of the output summed over its pixels of one channel', async () => {
    const model = await modelOf(graph);
    const result = await explain(model, inputs, 2, { method: 'saliency', absolute: false, target: region });
    expectAllClose(result.attribution, referenceGradient(graph, inputs, 2, regionSeed), close(result.attribution), 'region');
    expect(result.outputTarget).toEqual([region, region]);
    const outputs = referenceForward(graph, inputs, 2).get(graph.output)!;
    const sums = [0, 1].map((i) => regionSeed.reduce((sum, w, k) => sum + w * outputs[i * 144 + k]!, 0));
    expect([...result.score]).toEqual(sums.map((s) => expect.closeTo(s, 4)));
  });

  it('a mask weighs each output element', async () => {
    const model = await modelOf(graph);
    const mask = randomTensor(144, 23);
    const result = await explain(model, inputs, 2, { method: 'gradient-x-input', target: { mask } });
    const gradient = referenceGradient(graph, inputs, 2, Float64Array.from(mask));
    const expected = gradient.map((g, k) => g * inputs[k]!);
    expectAllClose(result.attribution, expected, close(expected), 'mask');
  });

  it('integrated gradients keeps completeness for a region', async () => {
    const model = await modelOf(graph);
    const result = await explain(model, inputs, 2, { method: 'integrated-gradients', steps: 64, target: region });
    for (let i = 0; i < 2; i++) {
      const sum = result.attribution.subarray(i * 96, (i + 1) * 96).reduce((a, b) => a + b, 0);
      expect(Math.abs(result.delta![i]!), `input ${i}: Σ ${sum}`).toBeLessThan(0.01 * Math.abs(sum - result.delta![i]!));
    }
  });
});

describe('bad output targets are BAD_PARAMS, naming what is wrong', () => {
  const cases: [string, () => Graph, object, RegExp][] = [
    ['a step past the last', sequenceModel, { step: 10, class: 0 }, /step 10 is not a time step in \[0, 10\)/],
    ['a negative step', sequenceModel, { step: -1, class: 0 }, /step -1/],
    ['a class past the last', sequenceModel, { step: 0, class: 5 }, /class 5 is not a class index in \[0, 5\)/],
    [
      'fewer step targets than inputs',
      sequenceModel,
      [
        { step: 0, class: 0 },
        { step: 1, class: 0 },
      ],
      /2 step targets for 1 inputs/,
    ],
    ['a step target on a dense map', denseModel, { step: 0, class: 0 }, /\[steps, classes\] per sample; this model's is \[3, 6, 8\]/],
    ['a region past the edge', denseModel, { region: [0, 0, 9, 2] }, /0 ≤ x0 < x1 ≤ 8/],
    ['an empty region', denseModel, { region: [3, 2, 3, 4] }, /is not x0,y0,x1,y1/],
    ['a channel the map lacks', denseModel, { region: [0, 0, 2, 2], channel: 3 }, /channel 3 is not in \[0, 3\)/],
    ['a region of a sequence of vectors', sequenceModel, { region: [0, 0, 2, 2], channel: 1 }, /channel 1 is not in \[0, 1\)/],
    ['a mask of the wrong size', denseModel, { mask: new Float32Array(10) }, /needs 144 weights/],
    ['an all-zero mask', denseModel, { mask: new Float32Array(144) }, /all zeros/],
    ['a mask with NaN', denseModel, { mask: new Float32Array(144).fill(Number.NaN) }, /NaN/],
  ];
  for (const [what, graph, target, message] of cases) {
    it(what, async () => {
      const model = await modelOf(graph());
      const count = 1;
      const inputs = randomTensor(graph === denseModel ? 96 : 40, 1);
      await expect(explain(model, inputs, count, { method: 'saliency', target: target as never })).rejects.toMatchObject({
        code: 'BAD_PARAMS',
        message: expect.stringMatching(message),
      });
    });
  }

  it("a score other than the output's own value", async () => {
    const model = await modelOf(sequenceModel());
    await expect(
      explain(model, randomTensor(40, 1), 1, { method: 'saliency', score: 'probability', target: { step: 0, class: 0 } }),
    ).rejects.toMatchObject({
      code: 'BAD_PARAMS',
      message: expect.stringMatching(/score 'logit'/),
    });
  });
});
