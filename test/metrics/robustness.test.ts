import { beforeAll, describe, expect, it } from 'vitest';
import { explain } from '../../src/attribution/explain.ts';
import type { MethodId } from '../../src/attribution/registry.ts';
import { Model } from '../../src/graph/model.ts';
import { completeness } from '../../src/metrics/completeness.ts';
import { infidelity } from '../../src/metrics/infidelity.ts';
import { sensitivity, type Explainer } from '../../src/metrics/robustness.ts';
import { testContext } from '../helpers/gpu.ts';
import { linearModel } from './linear.ts';

// f(x) = w·x + b on a 1×4×4 image: f(x) − f(x − I) = Iᵀw exactly, so the gradient w has infidelity 0 for every I.
const w = Array.from({ length: 16 }, (_, k) => ((k * 7) % 5) - 2 + 0.5);
const image = Float32Array.from({ length: 16 }, (_, k) => 0.1 + ((k * 3) % 7) / 7);
const target = Int32Array.of(0);

let model: Model;
beforeAll(async () => {
  model = await Model.create(await testContext(), linearModel(w, 0.5, [1, 4, 4]));
});

const explainer =
  (method: MethodId): Explainer =>
  async (inputs, count, targets) =>
    (await explain(model, inputs, count, { method, target: Array.from(targets), absolute: false })).attribution;

describe('infidelity', () => {
  it('is zero for the gradient of a linear model under Gaussian perturbations', async () => {
    const [value] = await infidelity(model, image, Float32Array.from(w), 1, { target, seed: 1, samples: 8 });
    expect(value).toBeLessThan(1e-9);
  });

  it('is zero for the gradient of a linear model under square removal', async () => {
    const [value] = await infidelity(model, image, Float32Array.from(w), 1, { perturbation: 'square', squareSize: 2, target, seed: 1, samples: 8 });
    expect(value).toBeLessThan(1e-9);
  });

  it('with normalize, a scaled gradient is as faithful as the gradient (β undoes the scale)', async () => {
    const [scaled] = await infidelity(
      model,
      image,
      Float32Array.from(w, (v) => 3 * v),
      1,
      { target, seed: 1, normalize: true },
    );
    const [unscaled] = await infidelity(
      model,
      image,
      Float32Array.from(w, (v) => 3 * v),
      1,
      { target, seed: 1 },
    );
    expect(scaled).toBeLessThan(1e-9);
    expect(unscaled).toBeGreaterThan(1e-3);
  });

  it('seeded twice gives the same number, another seed another', async () => {
    const wrong = Float32Array.from(w, (v, k) => v + (k % 3));
    const [first] = await infidelity(model, image, wrong, 1, { target, seed: 4 });
    const [second] = await infidelity(model, image, wrong, 1, { target, seed: 4 });
    const [other] = await infidelity(model, image, wrong, 1, { target, seed: 5 });
    expect(second).toBe(first);
    expect(other).not.toBe(first);
  });
});

describe('sensitivity', () => {
  it('the gradient of a linear model does not move: max- and average-sensitivity 0', async () => {
    const result = await sensitivity(model, image, 1, explainer('saliency'), { target, seed: 1, samples: 4 });
    expect(result.max[0]).toBeLessThan(1e-6);
    expect(result.average[0]).toBeLessThan(1e-6);
  });

  it('gradient × input of f = c·Σx has local Lipschitz estimate |c|', async () => {
    const flat = await Model.create(await testContext(), linearModel(new Array(16).fill(-2), 0, [1, 4, 4]));
    const result = await sensitivity(
      flat,
      image,
      1,
      async (inputs, count, targets) => (await explain(flat, inputs, count, { method: 'gradient-x-input', target: Array.from(targets) })).attribution,
      { target, seed: 1, samples: 4, radius: 0.1 },
    );
    expect(result.lipschitz[0]).toBeCloseTo(2, 4);
    expect(result.max[0]).toBeGreaterThanOrEqual(result.average[0]!);
  });

  it('seeded twice gives the same number', async () => {
    const run = () => sensitivity(model, image, 1, explainer('gradient-x-input'), { seed: 9, samples: 3 });
    const [first, second] = [await run(), await run()];
    expect(second.max[0]).toBe(first.max[0]);
  });
});

describe('completeness', () => {
  it('integrated gradients of a linear model sum to f(x) − f(0) over a dataset', async () => {
    const two = Float32Array.of(...image, ...image.map((v) => 1 - v));
    const result = await completeness(model, two, 2, { steps: 8 });
    expect(result.meanAbsolute).toBeLessThan(1e-4);
    expect(result.delta).toHaveLength(2);
  });
});
