import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Model } from '../../src/graph/model.ts';
import { embeddingOutput } from '../../src/graph/embedding.ts';
import { loadOnnx, vocabularyFrom } from '../../src/onnx/load.ts';
import { testContext } from '../helpers/gpu.ts';
import { expectLogitsClose, oracleLogits } from '../helpers/oracle.ts';

const bytes = new Uint8Array(readFileSync(new URL('../../models/sentiment.onnx', import.meta.url)));
const sample = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../samples/text/${name}`, import.meta.url), 'utf8')) as { tokens: string[]; ids: number[] };

const models: Model[] = [];
afterAll(() => models.forEach((model) => model.destroy()));

describe('a vocabulary in model metadata', () => {
  it('reads a JSON list (id → token) or a JSON object (token → id, as vocab.json)', () => {
    expect(vocabularyFrom(new Map([['vocabulary', '["[PAD]","good"]']]))).toEqual(['[PAD]', 'good']);
    expect(vocabularyFrom(new Map([['vocab', '{"good": 1, "[PAD]": 0, "bad": 3}']]))).toEqual(['[PAD]', 'good', '[2]', 'bad']);
  });

  it('anything else is no vocabulary', () => {
    expect(vocabularyFrom(new Map([['vocabulary', 'not json']]))).toBeUndefined();
    expect(vocabularyFrom(new Map())).toBeUndefined();
  });
});

describe('the demo text model (models/sentiment.onnx)', () => {
  it('loads with integer ids in, its vocabulary and labels from the metadata', () => {
    const graph = loadOnnx(bytes);
    expect(graph.tokenIds?.vocabulary?.slice(0, 3)).toEqual(['[PAD]', '[CLS]', '[UNK]']);
    expect(graph.labels).toEqual(['negative', 'positive']);
  });

  it('finds its token embedding output: the Gather of the token table by the ids', () => {
    expect(embeddingOutput(loadOnnx(bytes))).toBe('/token_embedding/Gather_output_0');
  });

  it('an image model has no token embedding: BAD_PARAMS that says to name a layer', () => {
    const digits = loadOnnx(new Uint8Array(readFileSync(new URL('../../models/digits.onnx', import.meta.url))));
    expect(() => embeddingOutput(digits)).toThrow(expect.objectContaining({ code: 'BAD_PARAMS', message: expect.stringMatching(/--layer/) }));
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
