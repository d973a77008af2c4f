import { describe, expect, it } from 'vitest';
import { explain } from '../../src/attribution/explain.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import { Model } from '../../src/graph/model.ts';
import { captumFixture, captumModel, relativeL2 } from '../helpers/captum.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { randomTensor } from '../reference/random.ts';

// Opened at the top level, so the device outlives every describe block below (testContext destroys it after the file).
const context = await testContext();

describe('DeepLiftShap: DeepLift averaged over a set of references', () => {
  const fixture = captumFixture();

  for (const name of ['cnn', 'mlp'] as const) {
    it(`${name}: within 1e-4 relative L2 of Captum's (test/captum/make_deeplift.py)`, async () => {
      const spec = fixture.models[name];
      const captum = spec.cases['deeplift-shap']!;
      const model = await captumModel(context, name);
      try {
        const result = await explain(model, Float32Array.from(spec.inputs), spec.targets.length, {
          method: 'deeplift-shap',
          target: spec.targets,
          baselines: Float32Array.from(captum.baselines),
        });
        expect(relativeL2(result.attribution, captum.attribution)).toBeLessThan(Math.max(1e-4, 3 * captum.f32_vs_f64));
      } finally {
        model.destroy();
      }
    });
  }

  it("is the mean of DeepLift's maps over the set, and its delta the mean of theirs (complete on a ReLU net)", async () => {
    const b = new GraphBuilder('relu-mlp', 8);
    const graph = b.build(b.gemm(b.relu(b.gemm(b.relu(b.gemm(b.input([5]), 9)), 7)), 3));
    const model = await Model.create(context, graph);
    try {
      const inputs = randomTensor(2 * 5, 95, 2);
      const set = randomTensor(3 * 5, 96, 1);
      const shap = await explain(model, inputs, 2, { method: 'deeplift-shap', target: [2, 0], baselines: set });
      const each = await Promise.all(
        [0, 1, 2].map((j) => explain(model, inputs, 2, { method: 'deeplift', target: [2, 0], baseline: set.slice(j * 5, (j + 1) * 5) })),
      );
      expectAllClose(
        shap.attribution,
        shap.attribution.map((_, n) => each.reduce((sum, r) => sum + r.attribution[n]!, 0) / 3),
        { abs: 1e-6, rel: 1e-5 },
      );
      expectAllClose(shap.delta!, [0, 0], { abs: 1e-4, rel: 0 }, 'delta');
      expect(shap.options.baselineCount).toBe(3);
    } finally {
      model.destroy();
    }
  });

  it('refuses a call without a set of references', async () => {
    const model = await captumModel(context, 'mlp');
    try {
      await expect(explain(model, new Float32Array(6), 1, { method: 'deeplift-shap' })).rejects.toMatchObject({ code: 'BAD_PARAMS' });
      await expect(explain(model, new Float32Array(6), 1, { method: 'deeplift-shap', baselines: new Float32Array(4) })).rejects.toMatchObject({
        code: 'BAD_PARAMS',
      });
    } finally {
      model.destroy();
    }
  });
});
