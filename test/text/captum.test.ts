import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { explainTokens } from '../../src/attribution/tokens.ts';
import { Model } from '../../src/graph/model.ts';
import { loadOnnx } from '../../src/onnx/load.ts';
import { testContext } from '../helpers/gpu.ts';

/**
 * Token attribution against Captum 0.8 itself: LayerIntegratedGradients on the token embedding of the demo text model
 * (test/text/make_captum_fixture.py), 50 Gauss–Legendre steps. The bound is issue 14's: 1e-4 relative L2, or 3×
 * Captum's own float32-vs-float64 difference where that is larger.
 */

interface Case {
  text: string;
  ids: number[];
  baselineToken: number;
  baselineName: string;
  target: number;
  logits64: number[];
  shape: number[];
  attribution64: number[];
  attribution32: number[];
  tokens64: number[];
  delta64: number;
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/captum_layer_ig.json', import.meta.url), 'utf8')) as { steps: number; cases: Case[] };
const bytes = new Uint8Array(readFileSync(new URL('../../models/sentiment.onnx', import.meta.url)));

const norm = (values: ArrayLike<number>) => Math.sqrt(Array.from(values).reduce((sum, v) => sum + v * v, 0));
const relativeL2 = (actual: ArrayLike<number>, expected: readonly number[]) => norm(expected.map((v, i) => actual[i]! - v)) / norm(expected);

const models: Model[] = [];
afterAll(() => models.forEach((model) => model.destroy()));

async function sentiment(length: number): Promise<Model> {
  const model = await Model.create(await testContext(), loadOnnx(bytes, { inputShape: [length] }));
  models.push(model);
  return model;
}

describe("token attribution matches Captum's LayerIntegratedGradients on the embedding layer", () => {
  for (const c of fixture.cases) {
    it(`"${c.text}", baseline ${c.baselineName}, target ${c.target}`, async () => {
      const model = await sentiment(c.ids.length);
      const options = { method: 'integrated-gradients', steps: fixture.steps, rule: 'gausslegendre', target: c.target } as const;
      const result = await explainTokens(model, Float32Array.from(c.ids), 1, { ...options, baselineToken: c.baselineToken });
      const captumOwn = relativeL2(c.attribution32, c.attribution64);
      const bound = Math.max(1e-4, 3 * captumOwn);
      expect(result.shape).toEqual([1, ...c.shape]);
      expect(relativeL2(result.attribution, c.attribution64), `embedding attribution (Captum's own float32 error ${captumOwn})`).toBeLessThanOrEqual(
        bound,
      );
      expect(relativeL2(result.tokens, c.tokens64), 'per-token sums').toBeLessThanOrEqual(bound);
      // Captum's convergence delta is the same quadrature's residual: equal up to float32 in f(x) − f(b).
      const scale = Math.max(...c.logits64.map(Math.abs));
      expect(Math.abs(result.delta![0]! - c.delta64), `delta ${result.delta![0]} against Captum's ${c.delta64}`).toBeLessThanOrEqual(1e-4 * scale);
    });
  }

  it('the zero-embedding baseline equals the [PAD] baseline of a model whose [PAD] embeds to zeros', async () => {
    const c = fixture.cases.find((k) => k.baselineName === '[PAD]')!;
    const model = await sentiment(c.ids.length);
    const options = { method: 'integrated-gradients', steps: fixture.steps, target: c.target } as const;
    const zeros = await explainTokens(model, Float32Array.from(c.ids), 1, options);
    expect(relativeL2(zeros.attribution, c.attribution64)).toBeLessThanOrEqual(1e-4);
  });
});
