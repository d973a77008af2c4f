import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { areaUnder } from '../../components/curve.ts';
import { createLens } from '../../src/index.ts';
import { smallCnn } from '../../src/graph/models.ts';
import { perturbationCurve, trapezoid } from '../../src/metrics/index.ts';
import { randomTensor } from '../reference/random.ts';

describe('metrics take the public model', () => {
  it('a deletion curve of a LensModel is the one of its internal model, and needs no second upload', async () => {
    const lens = await createLens();
    try {
      const model = await lens.load(smallCnn({ inputSize: 8, seed: 3 }));
      const x = randomTensor(64, 12, 1);
      const { attribution } = await model.explain(x, { method: 'saliency', seed: 1 });
      const internal = await model.resolve();
      const viaLens = await perturbationCurve(model, x, attribution, 1, { steps: 8 });
      expect(await model.resolve()).toBe(internal); // the same weights, not a copy
      const viaModel = await perturbationCurve(internal, x, attribution, 1, { steps: 8 });
      expect([...viaLens.scores]).toEqual([...viaModel.scores]);
      expect(viaLens.scores[0]).not.toBe(viaLens.scores.at(-1));
      await model.destroy();
    } finally {
      await lens.close();
    }
  });

  it("the curve widget's area is the metrics' trapezoid rule, on unequal fractions too", () => {
    expect(trapezoid([1, 3], [0, 0.5])).toBe(1);
    expect(trapezoid([0, 1, 1])).toBe(0.75);
    expect(areaUnder([0, 0.25, 1], [2, 2, 0])).toBe(trapezoid([2, 2, 0], [0, 0.25, 1]));
    expect(areaUnder([0, 0.25, 1], [2, 2, 0])).toBe(0.5 + 0.75);
  });

  it('components/curve.ts and the controller import only the public API (no src/gpu, no src/graph)', () => {
    for (const file of ['curve.ts', 'explain-controller.ts']) {
      const source = readFileSync(new URL(`../../components/${file}`, import.meta.url), 'utf8');
      const imports = [...source.matchAll(/from '([^']+)'/g)].map((m) => m[1]!);
      expect(
        imports.filter((path) => path.startsWith('../src/') && path !== '../src/index.ts'),
        file,
      ).toEqual([]);
      expect(source, file).not.toMatch(/Model\.create|src\/gpu|src\/graph/);
    }
  });
});
