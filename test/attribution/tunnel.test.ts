import { describe, expect, it } from 'vitest';
import { explain } from '../../src/attribution/explain.ts';
import { philox, normal } from '../../src/attribution/philox.ts';
import { Model } from '../../src/graph/model.ts';
import { smallCnn } from '../../src/graph/models.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { engineNormal, philox4x32 } from '../reference/philox.ts';
import { randomTensor } from '../reference/random.ts';

describe('CPU Philox, the engine stream off the GPU', () => {
  it('matches the BigInt reference on many counters', () => {
    for (let i = 0; i < 200; i++) {
      const counter = [i * 7919, i, i * 31, i % 3] as [number, number, number, number];
      const key = [0xdeadbeef ^ i, i * 104729] as [number, number];
      expect(philox(counter, key)).toEqual(philox4x32(counter, key));
    }
    expect(normal(12345, 6, 7, 8)).toBe(engineNormal(12345, 6, 7, 8));
  });
});

describe('noise tunnel around a method that is not on the engine', () => {
  const graph = smallCnn({ inputSize: 8, seed: 3 });
  const x = randomTensor(2 * 64, 91, 1);

  it("is the mean of the method on x + σε over the engine stream, with the clean inputs' targets", async () => {
    const model = await Model.create(await testContext(), graph);
    const [samples, stdev, seed] = [3, 0.2, 5];
    const tunnel = await explain(model, x, 2, { method: 'grad-cam', layer: 'relu_6', noiseTunnel: 'smoothgrad', samples, stdev, seed });
    const clean = await explain(model, x, 2, { method: 'grad-cam', layer: 'relu_6' });
    const maps: Float32Array[] = [];
    for (let s = 0; s < samples; s++) {
      const noisy = Float32Array.from(x, (v, flat) => v + stdev * engineNormal(seed, flat % 64, s, Math.floor(flat / 64)));
      maps.push((await explain(model, noisy, 2, { method: 'grad-cam', layer: 'relu_6', target: [...clean.target] })).attribution);
    }
    const mean = Array.from(x, (_, i) => maps.reduce((sum, map) => sum + map[i]! / samples, 0));
    expectAllClose(tunnel.attribution, mean, { abs: 1e-5, rel: 1e-4 });
    expect(tunnel.options.noiseTunnel).toBe('smoothgrad');
    model.destroy();
  });
});
