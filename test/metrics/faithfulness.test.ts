import { beforeAll, describe, expect, it } from 'vitest';
import { Model } from '../../src/graph/model.ts';
import { deletion, faithfulnessCorrelation, insertion, nonSensitivity, sensitivityN } from '../../src/metrics/faithfulness.ts';
import { testContext } from '../helpers/gpu.ts';
import { linearModel } from './linear.ts';

// f(x) = w·x + b; with zero replacement, removing a set S of features leaves f = b + Σ_{i∉S} w_i x_i.
const w = [2, 1, -0.5, 3];
const b = 0.25;
const x = Float32Array.of(0.5, -1, 2, 1.5);
const contributions = x.map((v, i) => v * w[i]!); // [1, −1, −1, 4.5]
const target = Int32Array.of(0);

let model: Model;
beforeAll(async () => {
  model = await Model.create(await testContext(), linearModel(w, b));
});

describe('deletion and insertion curves', () => {
  it('deleting the most relevant features of a linear model follows b + Σ of the contributions not yet removed', async () => {
    const curve = await deletion(model, x, contributions, 1, { score: 'logit', target, steps: 4 });
    // Most relevant first: 4.5 (feature 3), 1 (feature 0), then the tied −1s in feature order.
    expect(Array.from(curve.scores)).toEqual([3.75, -0.75, -1.75, -0.75, 0.25]);
    expect(curve.auc[0]).toBeCloseTo((3.75 / 2 - 0.75 - 1.75 - 0.75 + 0.25 / 2) / 4, 6);
    expect(curve.aopc[0]).toBeCloseTo((0 + 4.5 + 5.5 + 4.5 + 3.5) / 5, 6);
  });

  it('least-relevant-first deletes the smallest contributions first', async () => {
    const curve = await deletion(model, x, contributions, 1, { score: 'logit', target, steps: 4, order: 'least-relevant-first' });
    expect(Array.from(curve.scores)).toEqual([3.75, 4.75, 5.75, 4.75, 0.25]);
  });

  it('insertion adds the most relevant features to the replacement one by one', async () => {
    const curve = await insertion(model, x, contributions, 1, { score: 'logit', target, steps: 4, replacement: 'zero' });
    expect(Array.from(curve.scores)).toEqual([0.25, 4.75, 5.75, 4.75, 3.75]);
    expect(curve.auc[0]).toBeCloseTo((0.25 / 2 + 4.75 + 5.75 + 4.75 + 3.75 / 2) / 4, 6);
  });

  it('fewer steps than features remove round(k · features / steps) features at step k', async () => {
    const curve = await deletion(model, x, contributions, 1, { score: 'logit', target, steps: 3 });
    // 0, 1, 3, 4 features removed.
    expect(Array.from(curve.scores)).toEqual([3.75, -0.75, -0.75, 0.25]);
  });

  it('pixel granularity removes every channel of a pixel together and patches remove squares', async () => {
    // Input [2, 2, 2]: channel 0 then channel 1, each 2×2; w = 1 everywhere, so f = Σ x.
    const image = Float32Array.of(1, 2, 3, 4, 10, 20, 30, 40);
    const flat = await Model.create(await testContext(), linearModel(new Array(8).fill(1), 0, [2, 2, 2]));
    const pixel = await deletion(flat, image, image, 1, { score: 'logit', target, steps: 4, granularity: 'pixel' });
    // Pixels by relevance (summed over channels): 44, 33, 22, 11.
    expect(Array.from(pixel.scores)).toEqual([110, 66, 33, 11, 0]);
    const patch = await deletion(flat, image, image, 1, { score: 'logit', target, steps: 1, granularity: { patch: 2 } });
    expect(Array.from(patch.scores)).toEqual([110, 0]);
  });

  it('mean replacement puts each channel mean where a pixel was removed', async () => {
    const image = Float32Array.of(1, 2, 3, 4, 10, 20, 30, 40);
    const flat = await Model.create(await testContext(), linearModel(new Array(8).fill(1), 0, [2, 2, 2]));
    const curve = await deletion(flat, image, image, 1, { score: 'logit', target, steps: 4, replacement: 'mean' });
    // Removing pixel 3 (4 and 40) puts 2.5 and 25 there: 110 − 44 + 27.5.
    expect(curve.scores[1]).toBeCloseTo(93.5, 4);
    expect(curve.scores[4]).toBeCloseTo(110, 4);
  });

  it('noise replacement seeded twice gives the same curve, another seed another', async () => {
    const run = (seed: number) => deletion(model, x, contributions, 1, { score: 'logit', target, steps: 4, replacement: 'noise', seed });
    const [first, second, other] = await Promise.all([run(7), run(7), run(8)]);
    expect(Array.from(second.scores)).toEqual(Array.from(first.scores));
    expect(Array.from(other.scores)).not.toEqual(Array.from(first.scores));
  });

  it('curves of several inputs come out per input', async () => {
    const two = Float32Array.of(...x, 1, 1, 1, 1);
    const attribution = Float32Array.of(...contributions, 2, 1, -0.5, 3);
    const curve = await deletion(model, two, attribution, 2, { score: 'logit', target: Int32Array.of(0, 0), steps: 4 });
    expect(Array.from(curve.scores.subarray(5))).toEqual([5.75, 2.75, 0.75, -0.25, 0.25]);
  });
});

describe('faithfulness correlation and sensitivity-n', () => {
  it('gradient × input of a linear model correlates perfectly with the drop of every random subset', async () => {
    const [correlation] = await faithfulnessCorrelation(model, x, contributions, 1, { subsetSize: 2, samples: 20, target, seed: 1 });
    expect(correlation).toBeCloseTo(1, 5);
  });

  it('a map that reverses the contributions correlates at −1', async () => {
    const [correlation] = await faithfulnessCorrelation(
      model,
      x,
      contributions.map((v) => -v),
      1,
      { subsetSize: 2, samples: 20, target, seed: 1 },
    );
    expect(correlation).toBeCloseTo(-1, 5);
  });

  it('sensitivity-n of gradient × input on a linear model is 1 at every n', async () => {
    const correlations = await sensitivityN(model, x, contributions, 1, [1, 2, 3], { samples: 20, target, seed: 2 });
    for (const [correlation] of correlations) expect(correlation).toBeCloseTo(1, 5);
  });

  it('seeded twice gives the same number', async () => {
    const attribution = Float32Array.of(1, 0, 0.5, 2);
    const [first] = await faithfulnessCorrelation(model, x, attribution, 1, { subsetSize: 2, samples: 10, target, seed: 5 });
    const [second] = await faithfulnessCorrelation(model, x, attribution, 1, { subsetSize: 2, samples: 10, target, seed: 5 });
    expect(second).toBe(first);
  });
});

describe('non-sensitivity', () => {
  const dead = [1, 2, 0, 3]; // the model ignores feature 2
  const ones = Float32Array.of(1, 2, 3, 4); // varied, so the noise over [min, max] moves every live feature
  let deadModel: Model;
  beforeAll(async () => {
    deadModel = await Model.create(await testContext(), linearModel(dead, 0));
  });

  it('gradient × input of a model with a dead input scores zero', async () => {
    const [violations] = await nonSensitivity(deadModel, ones, Float32Array.of(1, 4, 0, 12), 1, { target, seed: 1 });
    expect(violations).toBe(0);
  });

  it('relevance on the dead input counts one violation', async () => {
    const [violations] = await nonSensitivity(deadModel, ones, Float32Array.of(1, 4, 5, 12), 1, { target, seed: 1 });
    expect(violations).toBe(1);
  });

  it('no relevance on a live input counts one violation', async () => {
    const [violations] = await nonSensitivity(deadModel, ones, Float32Array.of(1, 0, 0, 12), 1, { target, seed: 1 });
    expect(violations).toBe(1);
  });
});
