import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { explain, type ExplainOptions } from '../../src/attribution/explain.ts';
import { METHOD_IDS, METHODS } from '../../src/attribution/registry.ts';
import { Model } from '../../src/graph/model.ts';
import { readNpy, toFloat32 } from '../../src/io/npy.ts';
import { loadOnnx } from '../../src/onnx/load.ts';
import { captumFixture } from '../helpers/captum.ts';
import { relativeL2 } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';

/** A fixture folder's manifest.json, as test/captum/make_fixtures.py documents it. */
interface Manifest {
  model: string;
  count: number;
  input: string;
  targets: number[];
  cases: {
    name: string;
    captum: string;
    gradlens: Record<string, unknown>;
    expected: string;
    float32Deviation: number;
    tolerance: number;
    delta?: number[];
  }[];
}

const root = new URL('../../', import.meta.url).pathname;
const fixtures = `${root}test/captum/fixtures/`;

const manifests = readdirSync(fixtures).map(
  (name) => [name, JSON.parse(readFileSync(`${fixtures}${name}/manifest.json`, 'utf8')) as Manifest] as const,
);

describe("README's Captum column", () => {
  it('marks exactly the methods with a Captum fixture: each counterpart named is tested, and each tested method names one', () => {
    const tested = new Set(manifests.flatMap(([, manifest]) => manifest.cases.map((c) => c.gradlens.method as string)));
    // DeepLift's fixture (test/captum/make_deeplift.py) has its own format, read by test/attribution/deeplift*.test.ts.
    const deepLift = Object.values(captumFixture().models).flatMap((model) => Object.keys(model.cases));
    deepLift.forEach((name) => tested.add(name.startsWith('deeplift-shap') ? 'deeplift-shap' : 'deeplift'));
    expect(tested).toEqual(new Set(METHOD_IDS.filter((id) => METHODS[id].captum)));
  });
});

const context = await testContext();

for (const [name, manifest] of manifests) {
  const dir = `${fixtures}${name}/`;
  const npy = (file: string) => toFloat32(readNpy(readFileSync(`${dir}${file}`)));
  // A tensor option is {"npy": file} in the manifest.
  const options = (gradlens: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(gradlens).map(([key, value]) => [key, value && typeof value === 'object' && 'npy' in value ? npy(value.npy as string) : value]),
    ) as unknown as ExplainOptions;

  describe(`${name} (${manifest.model}): gradlens agrees with Captum`, async () => {
    const model = await Model.create(context, loadOnnx(readFileSync(`${root}${manifest.model}`)));
    const inputs = npy(manifest.input);
    for (const fixture of manifest.cases) {
      it(`${fixture.name}, as ${fixture.captum}`, async () => {
        const result = await explain(model, inputs, manifest.count, { ...options(fixture.gradlens), target: manifest.targets });
        const expected = npy(fixture.expected);
        expect(result.attribution.length).toBe(expected.length);
        const distance = relativeL2(result.attribution, expected);
        expect(distance, `relative L2 to Captum (Captum's own float32 error ${fixture.float32Deviation})`).toBeLessThanOrEqual(fixture.tolerance);
        if (!fixture.delta) return;
        // Σ(gradlens − Captum) is at most √n·‖gradlens − Captum‖₂; the f32 forward passes add a few ulps of the scores.
        const size = expected.length / manifest.count;
        fixture.delta.forEach((delta, i) => {
          const own = expected.subarray(i * size, (i + 1) * size);
          const bound = Math.sqrt(size) * fixture.tolerance * Math.hypot(...own) + 1e-5 * (1 + Math.abs(result.score[i]!));
          expect(Math.abs(result.delta![i]! - delta), `convergence delta of input ${i}`).toBeLessThanOrEqual(bound);
        });
      });
    }
  });
}
