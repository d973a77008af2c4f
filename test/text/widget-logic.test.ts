import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ExplainController, releaseLens } from '../../components/explain-controller.ts';
import { tokenSummary } from '../../components/summary.ts';
import type { TokenExplanation } from '../../src/attribution/tokens.ts';
import { tokenize } from '../../src/io/tokenize.ts';
import { tokenPeak, tokenShades } from '../../src/render/tokens.ts';

// <gradlens-text>'s logic without a DOM: the tokenizer, the shades, the summary and the controller's token runs.

const VOCABULARY = ['[PAD]', '[CLS]', '[UNK]', 'good', 'not', 'the', 'movie', 'was', ','];

describe('tokenize: text to ids for a word-level vocabulary', () => {
  it('lower-cases, splits punctuation, maps unknown words to [UNK] and puts [CLS] first', () => {
    expect(tokenize('The movie, was NOT great', VOCABULARY)).toEqual({
      tokens: ['[CLS]', 'the', 'movie', ',', 'was', 'not', '[UNK]'],
      ids: [1, 5, 6, 8, 7, 4, 2],
    });
  });

  it('an unknown word without an unknown token, or no words, is BAD_INPUT', () => {
    expect(() => tokenize('great', ['good'])).toThrow(expect.objectContaining({ code: 'BAD_INPUT', message: expect.stringMatching(/"great"/) }));
    expect(() => tokenize('  ', VOCABULARY)).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
  });
});

describe('token shades', () => {
  it('one symmetric scale: strength |v| / max |v|, sign kept, non-finite values unshaded', () => {
    const shades = tokenShades(['a', 'b', 'c', 'd'], [2, -1, 0, NaN]);
    expect(shades.map((s) => [s.strength, s.sign])).toEqual([
      [1, 1],
      [0.5, -1],
      [0, 0],
      [0, 0],
    ]);
    expect(tokenPeak([2, -3, Infinity])).toBe(3);
    expect(tokenShades(['a'], [0])[0]!.strength).toBe(0);
  });

  it('the summary names the strongest tokens on each side, for screen readers', () => {
    const shades = tokenShades(['the', 'not', 'good'], [0.1, -0.5, 2]);
    expect(tokenSummary(shades)).toBe('most for it: good (+2), the (+0.1); most against it: not (−0.5)');
    expect(tokenSummary(tokenShades(['a'], [0]))).toMatch(/every value is zero/);
  });
});

describe("the widgets' controller on a text model", () => {
  afterAll(() => releaseLens());

  it('predicts and explains ids at their own length, giving per-token values', async () => {
    const controller = new ExplainController();
    await controller.load(new Uint8Array(readFileSync(new URL('../../models/sentiment.onnx', import.meta.url))));
    const model = controller.model!;
    const { ids } = tokenize('the movie was not good', model.vocabulary);
    const predictions = await controller.predict(Float32Array.from(ids), 2, model.labels);
    expect(predictions[0]!.label).toBe('negative');
    const result = (await controller.run(Float32Array.from(ids), { method: 'gradient-x-input', reduce: 'sum' })) as TokenExplanation;
    expect(controller.status).toBe('done');
    expect(result.tokens).toHaveLength(ids.length);
    const direct = await model.explainTokens(ids, { method: 'gradient-x-input' });
    result.tokens.forEach((v, i) => expect(v).toBeCloseTo(direct.tokens[i]!, 6));
  });
});
