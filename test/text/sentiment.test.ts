import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Model } from '../../src/graph/model.ts';
import { loadOnnx } from '../../src/onnx/load.ts';
import { testContext } from '../helpers/gpu.ts';
import { expectLogitsClose, oracleLogits } from '../helpers/oracle.ts';

const bytes = new Uint8Array(readFileSync(new URL('../../models/sentiment.onnx', import.meta.url)));
const sample = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../samples/text/${name}`, import.meta.url), 'utf8')) as { tokens: string[]; ids: number[] };

const models: Model[] = [];
afterAll(() => models.forEach((model) => model.destroy()));

describe('the demo text model (models/sentiment.onnx)', () => {
  it('loads with integer ids in, its vocabulary and labels from the metadata', () => {
    const graph = loadOnnx(bytes);
    expect(graph.tokenIds?.vocabulary?.slice(0, 3)).toEqual(['[PAD]', '[CLS]', '[UNK]']);
    expect(graph.labels).toEqual(['negative', 'positive']);
  });

  for (const name of ['was_not_good.json', 'i_liked_it.json']) {
    it(`matches onnxruntime on ${name} at its own length`, async () => {
      const { ids } = sample(name);
      const model = await Model.create(await testContext(), loadOnnx(bytes, { inputShape: [ids.length] }));
      models.push(model);
      const plan = await model.plan({ batch: 1, objective: 'logit' });
      const input = Float32Array.from(ids);
      const { output } = await plan.run({ input, target: 0 });
      plan.destroy();
      expectLogitsClose(output, await oracleLogits(bytes, input, [1, ids.length]), name);
    });
  }
});
