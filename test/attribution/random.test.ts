import { describe, expect, it } from 'vitest';
import { makeBaselines } from '../../src/attribution/baselines.ts';
import { explain } from '../../src/attribution/explain.ts';
import { STREAM, philox, uniform, uniformSequence } from '../../src/attribution/philox.ts';
import type { ExplainOptions } from '../../src/attribution/types.ts';
import { Model } from '../../src/graph/model.ts';
import { smallCnn } from '../../src/graph/models.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { philox4x32 } from '../reference/philox.ts';
import { randomTensor } from '../reference/random.ts';

describe("baseline 'uniform' is drawn by Philox, keyed by the input's stream", () => {
  const size = 12;
  const x = randomTensor(3 * size, 31, 1);
  const one = (i: number) => x.slice(i * size, (i + 1) * size);

  it("an input's baseline does not depend on its batch position", () => {
    const batch = makeBaselines('uniform', x, 3, [size], 77, Uint32Array.of(10, 11, 12));
    // The third input alone, with its own stream id: the same baseline as in the batch.
    const alone = makeBaselines('uniform', one(2), 1, [size], 77, Uint32Array.of(12));
    expect([...alone]).toEqual([...batch.slice(2 * size)]);
    // The same input at another position with the same stream id, too.
    const moved = makeBaselines('uniform', Float32Array.from([...one(2), ...one(0)]), 2, [size], 77, Uint32Array.of(12, 10));
    expect([...moved.slice(0, size)]).toEqual([...batch.slice(2 * size)]);
  });

  it("is uniform over the input's range from the reference Philox's first word, and changes with the seed", () => {
    const batch = makeBaselines('uniform', x, 3, [size], 5, Uint32Array.of(0, 1, 2));
    for (let i = 0; i < 3; i++) {
      const [low, high] = [Math.min(...one(i)), Math.max(...one(i))];
      for (let e = 0; e < size; e++) {
        const bits = philox4x32([e, 0, i, STREAM.baseline], [5, 0])[0]!;
        expect(batch[i * size + e]).toBeCloseTo(low + (high - low) * (((bits >>> 8) + 1) / 2 ** 24), 5);
      }
    }
    expect([...makeBaselines('uniform', x, 3, [size], 6, Uint32Array.of(0, 1, 2))]).not.toEqual([...batch]);
  });

  it('the CPU draws are the reference Philox, each purpose on its own stream', () => {
    expect(philox([1, 2, 3, STREAM.metric], [9, 0])).toEqual(philox4x32([1, 2, 3, STREAM.metric], [9, 0]));
    expect(uniform(9, STREAM.baseline, 1, 2, 3)).not.toBe(uniform(9, STREAM.metric, 1, 2, 3));
    const [a, b] = [uniformSequence(4, STREAM.metric), uniformSequence(4, STREAM.metric)];
    const draws = Array.from({ length: 10 }, () => a());
    expect(Array.from({ length: 10 }, () => b())).toEqual(draws);
    expect(new Set(draws).size).toBe(10);
    expect(draws.every((u) => u >= 0 && u < 1)).toBe(true);
  });
});

describe('FusionGrad keeps its input noise whatever the base: the tunnel is a wrapper around any method', () => {
  const graph = smallCnn({ inputSize: 8, seed: 3 });
  const x = randomTensor(2 * 64, 91, 1);
  const bases: Record<string, Partial<ExplainOptions>> = { 'grad-cam': { layer: 'relu_6' }, 'blur-ig': { steps: 4, maxSigma: 2 } };

  for (const [base, own] of Object.entries(bases) as [ExplainOptions['method'], Partial<ExplainOptions>][]) {
    it(`fusiongrad over ${base}, weights unperturbed, is the base in a SmoothGrad tunnel, not the base alone`, async () => {
      const model = await Model.create(await testContext(), graph);
      const noise = { seed: 9, samples: 3, stdev: 0.3 };
      const fusion = await explain(model, x, 2, { method: 'fusiongrad', baseMethod: base, weightSamples: 1, weightStdev: 0, ...noise, ...own });
      const tunnel = await explain(model, x, 2, { method: base, noiseTunnel: 'smoothgrad', ...noise, ...own });
      const clean = await explain(model, x, 2, { method: base, ...own });
      expectAllClose(fusion.attribution, tunnel.attribution, { abs: 1e-5, rel: 1e-4 }, base);
      const peak = Math.max(...clean.attribution.map(Math.abs));
      const change = Math.max(...fusion.attribution.map((v, i) => Math.abs(v - clean.attribution[i]!)));
      expect(change).toBeGreaterThan(1e-3 * peak);
      model.destroy();
    });
  }

  it('a method that is a tunnel already refuses another', async () => {
    const model = await Model.create(await testContext(), graph);
    await expect(explain(model, x, 2, { method: 'smoothgrad', noiseTunnel: 'vargrad' })).rejects.toThrow(/noise tunnel/);
    model.destroy();
  });
});
