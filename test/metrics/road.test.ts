import { beforeAll, describe, expect, it } from 'vitest';
import { Model } from '../../src/graph/model.ts';
import { noisyLinearImputation } from '../../src/metrics/imputation.ts';
import { gaussian } from '../../src/metrics/random.ts';
import { road } from '../../src/metrics/road.ts';
import { testContext } from '../helpers/gpu.ts';
import { linearModel } from './linear.ts';

const exact = { noise: 0 };

describe('noisy linear imputation (Rong 2022)', () => {
  it('a constant image is imputed as the constant wherever pixels are removed', () => {
    const image = new Float32Array(2 * 5 * 5).fill(0.4);
    const removed = Uint8Array.from({ length: 25 }, (_, p) => Number(p % 3 === 0 || p < 5));
    const out = noisyLinearImputation(image, [2, 5, 5], removed, exact);
    for (const v of out) expect(v).toBeCloseTo(0.4, 6);
  });

  it('an interior block removed from a linear ramp is imputed as the ramp (its 8-neighbour mean)', () => {
    // v(r, c) = 0.3 r − 0.2 c + 1 on 7×7; the 3×3 block at rows and columns 2 … 4 is removed.
    const ramp = (r: number, c: number) => 0.3 * r - 0.2 * c + 1;
    const image = Float32Array.from({ length: 49 }, (_, p) => ramp(Math.floor(p / 7), p % 7));
    const removed = Uint8Array.from({ length: 49 }, (_, p) => Number(Math.abs(Math.floor(p / 7) - 3) <= 1 && Math.abs((p % 7) - 3) <= 1));
    const out = noisyLinearImputation(
      image.map((v, p) => (removed[p] ? 99 : v)),
      [1, 7, 7],
      removed,
      exact,
    );
    for (let p = 0; p < 49; p++) expect(out[p]).toBeCloseTo(ramp(Math.floor(p / 7), p % 7), 5);
  });

  it('a corner pixel is the mean of its three neighbours weighted 1/6, 1/6, 1/12: (2a + 2b + c) / 5', () => {
    // [[x, a], [b, c]] with a = 1, b = 2, c = 4: x = (2 + 4 + 4) / 5.
    const out = noisyLinearImputation(Float32Array.of(0, 1, 2, 4), [1, 2, 2], [1, 0, 0, 0], exact);
    expect(out[0]).toBeCloseTo(2, 6);
    expect(Array.from(out.subarray(1))).toEqual([1, 2, 4]);
  });

  it('two neighbouring removed pixels are solved together: a row a, x, y, d gives x = (2a + d)/3, y = (a + 2d)/3', () => {
    const out = noisyLinearImputation(Float32Array.of(3, 0, 0, 9), [1, 1, 4], [0, 1, 1, 0], exact);
    expect(out[1]).toBeCloseTo(5, 6);
    expect(out[2]).toBeCloseTo(7, 6);
  });

  it('noise of σ = 0.01 is added to imputed pixels only, reproducibly from its seed', () => {
    const image = new Float32Array(16 * 16).fill(0.5);
    const removed = Uint8Array.from({ length: 256 }, (_, p) => Number(p % 2 === 0));
    const run = (seed: number) => noisyLinearImputation(image, [1, 16, 16], removed, { normal: gaussian(seed).normal });
    const [first, second, other] = [run(3), run(3), run(4)];
    expect(Array.from(second)).toEqual(Array.from(first));
    expect(Array.from(other)).not.toEqual(Array.from(first));
    const deviations = Array.from(first)
      .filter((_, p) => removed[p])
      .map((v) => v - 0.5);
    const sd = Math.sqrt(deviations.reduce((s, d) => s + d * d, 0) / deviations.length);
    expect(sd).toBeGreaterThan(0.007);
    expect(sd).toBeLessThan(0.013);
    expect(
      Array.from(first)
        .filter((_, p) => !removed[p])
        .every((v) => v === 0.5),
    ).toBe(true);
  });
});

describe('ROAD curves', () => {
  // f(x) = Σ x on a 1×1×4 image [0, 1, 2, 6]; relevance [0, 0, 0, 1]: feature 3 first, then the tied ones in order.
  const image = Float32Array.of(0, 1, 2, 6);
  const relevance = Float32Array.of(0, 0, 0, 1);
  const target = Int32Array.of(0);
  let model: Model;
  beforeAll(async () => {
    model = await Model.create(await testContext(), linearModel([1, 1, 1, 1], 0, [1, 1, 4]));
  });

  it('most-relevant-first removes and imputes the most relevant pixels: 6 → 2, then 0 → 1', async () => {
    const curve = await road(model, image, relevance, 1, { fractions: [0.25, 0.5], noise: 0, score: 'logit', target });
    // [0, 1, 2, 2] sums to 5; removing pixels 3 and 0 gives [1, 1, 2, 2], 6.
    expect(curve.scores[0]).toBeCloseTo(5, 5);
    expect(curve.scores[1]).toBeCloseTo(6, 5);
    expect(curve.auc[0]).toBeCloseTo(5.5, 5);
    expect(curve.aopc[0]).toBeCloseTo(9 - 5.5, 5);
  });

  it('least-relevant-first removes the least relevant pixels: 0 → 1, then 0, 1 → 2, 2', async () => {
    const curve = await road(model, image, relevance, 1, { fractions: [0.25, 0.5], noise: 0, score: 'logit', target, order: 'least-relevant-first' });
    expect(curve.scores[0]).toBeCloseTo(10, 5);
    expect(curve.scores[1]).toBeCloseTo(12, 5);
  });

  it('seeded twice gives the same curve, another seed another', async () => {
    const two = Float32Array.of(...image, 1, 0, 3, 2);
    const run = (seed: number) =>
      road(model, two, Float32Array.of(...relevance, 4, 3, 2, 1), 2, {
        fractions: [0.25, 0.5, 0.75],
        noise: 0.5,
        score: 'logit',
        target: Int32Array.of(0, 0),
        seed,
      });
    const [first, second, other] = [await run(1), await run(1), await run(2)];
    expect(Array.from(second.scores)).toEqual(Array.from(first.scores));
    expect(Array.from(other.scores)).not.toEqual(Array.from(first.scores));
  });

  it('refuses a fraction that removes every pixel', async () => {
    await expect(road(model, image, relevance, 1, { fractions: [0.9] })).rejects.toThrow(/leave a pixel/);
  });
});
