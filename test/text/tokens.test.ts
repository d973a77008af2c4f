import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { explainTokens, perTokenOf } from '../../src/attribution/tokens.ts';
import { Model } from '../../src/graph/model.ts';
import { loadOnnx } from '../../src/onnx/load.ts';
import { testContext } from '../helpers/gpu.ts';

const bytes = new Uint8Array(readFileSync(new URL('../../models/sentiment.onnx', import.meta.url)));
const models: Model[] = [];
afterAll(() => models.forEach((model) => model.destroy()));

describe('per-token reduction', () => {
  it('sums each row signed, or takes its L2 norm', () => {
    const attribution = Float32Array.of(1, -3, 2, 3, 4, 0);
    expect([...perTokenOf(attribution, 2, 'sum')]).toEqual([0, 7]);
    expect([...perTokenOf(attribution, 2, 'l2')].map((v) => +v.toFixed(6))).toEqual([+Math.sqrt(14).toFixed(6), 5]);
  });
});

describe('token attribution on the demo text model', () => {
  const ids = Float32Array.of(1, 24, 17, 30, 21, 14); // any ids of the 37-token vocabulary
  const model = async () => {
    const made = await Model.create(await testContext(), loadOnnx(bytes, { inputShape: [ids.length] }));
    models.push(made);
    return made;
  };

  it('gradient × input at the embedding: per-token sums of the embedding gradient times the embedding', async () => {
    const m = await model();
    const result = await explainTokens(m, ids, 1, { method: 'gradient-x-input', target: 1 });
    const plan = await m.plan({ batch: 1, objective: 'logit', capture: [result.layer] });
    const run = await plan.run({ input: ids, target: 1 });
    plan.destroy();
    const expected = run.activations[result.layer]!.map((a, i) => a * run.gradients[result.layer]![i]!);
    const sums = perTokenOf(expected, ids.length, 'sum');
    result.tokens.forEach((v, i) => expect(v).toBeCloseTo(sums[i]!, 5));
    expect(result.shape).toEqual([1, ids.length, 32]);
  });

  it('integrated gradients at the embedding is complete: the tokens sum to f(x) − f(baseline) less the delta', async () => {
    const m = await model();
    const result = await explainTokens(m, ids, 1, { method: 'integrated-gradients', steps: 64, baselineToken: 2, target: 0 });
    const logits = async (input: Float32Array) => {
      const plan = await m.plan({ batch: 1, objective: 'none' });
      const { output } = await plan.run({ input });
      plan.destroy();
      return output[0]!;
    };
    const difference = (await logits(ids)) - (await logits(new Float32Array(ids.length).fill(2)));
    const total = result.tokens.reduce((a, b) => a + b, 0);
    expect(total - difference).toBeCloseTo(result.delta![0]!, 4);
    expect(Math.abs(result.delta![0]!)).toBeLessThan(0.05 * Math.abs(difference));
  });

  it('an input-only method is BAD_PARAMS naming the ones that work at the embedding', async () => {
    const m = await model();
    await expect(explainTokens(m, ids, 1, { method: 'saliency' })).rejects.toMatchObject({
      code: 'BAD_PARAMS',
      message: expect.stringMatching(/token ids have no gradient: use one of integrated-gradients, gradient-x-input, .*layer-conductance/),
    });
  });

  it('ids outside the vocabulary are BAD_INPUT, naming the position', async () => {
    const m = await model();
    await expect(explainTokens(m, Float32Array.of(1, 2, 3, 999, 4, 5), 1, { method: 'gradient-x-input' })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/ids\[3\] = 999/),
    });
    await expect(explainTokens(m, ids, 1, { method: 'integrated-gradients', baselineToken: 0.5 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
});
