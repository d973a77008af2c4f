import { readFileSync, readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Model } from '../../src/graph/model.ts';
import { parameterLayers, randomLogit, modelRandomisation, randomisedModel } from '../../src/metrics/randomisation.ts';
import { logitsOf } from '../../src/attribution/targets.ts';
import { loadImage } from '../../src/node/image.ts';
import { loadOnnx } from '../../src/onnx/load.ts';
import { testContext } from '../helpers/gpu.ts';

const root = new URL('../../', import.meta.url).pathname;
const COUNT = 4;

let model: Model;
let inputs: Float32Array;
beforeAll(async () => {
  model = await Model.create(await testContext(), loadOnnx(readFileSync(`${root}models/digits.onnx`)));
  const files = readdirSync(`${root}samples/digits`)
    .filter((f) => f.endsWith('.png'))
    .sort()
    .slice(0, COUNT);
  const images = await Promise.all(files.map((f) => loadImage(`${root}samples/digits/${f}`, { channels: 1, size: [28, 28] })));
  inputs = new Float32Array(COUNT * 784);
  images.forEach((image, i) => inputs.set(image.data, i * 784));
});

describe('model-parameter randomisation on the demo digit CNN (Adebayo 2018)', () => {
  it('finds the four layers with weights, input first', () => {
    expect(parameterLayers(model).map((layer) => layer.name)).toEqual(['/conv1/Conv', '/conv2/Conv', '/fc1/Gemm', '/fc2/Gemm']);
  });

  it('randomises a copy: the original model predicts as before', async () => {
    const before = await logitsOf(model, inputs, COUNT);
    const variant = await randomisedModel(model, parameterLayers(model), 1);
    const randomised = await logitsOf(variant, inputs, COUNT);
    variant.destroy();
    expect(Array.from(await logitsOf(model, inputs, COUNT))).toEqual(Array.from(before));
    expect(Array.from(randomised)).not.toEqual(Array.from(before));
  });

  for (const method of ['saliency', 'grad-cam'] as const) {
    it(`cascading randomisation drops the similarity of ${method} maps to the original`, async () => {
      const { steps } = await modelRandomisation(model, inputs, COUNT, { method }, { seed: 1 });
      expect(steps.map((step) => step.layers.length)).toEqual([1, 2, 3, 4]);
      const last = steps.at(-1)!.mean;
      expect(last.spearmanAbsolute).toBeLessThan(0.6);
      expect(last.ssim).toBeLessThan(0.6);
    });
  }

  it('independent randomisation randomises one layer per step', async () => {
    const { steps } = await modelRandomisation(model, inputs, COUNT, { method: 'saliency' }, { mode: 'independent', seed: 1 });
    expect(steps.map((step) => step.layers)).toEqual([['/fc2/Gemm'], ['/fc1/Gemm'], ['/conv2/Conv'], ['/conv1/Conv']]);
    for (const step of steps) expect(step.mean.spearmanAbsolute).toBeLessThan(0.99);
  });

  it('seeded twice gives the same similarities', async () => {
    const run = () => modelRandomisation(model, inputs.subarray(0, 784), 1, { method: 'saliency' }, { seed: 3 });
    const [first, second] = [await run(), await run()];
    expect(second.steps.map((s) => s.mean)).toEqual(first.steps.map((s) => s.mean));
  });

  it('random-logit: saliency for another class is not the map for the predicted class', async () => {
    const similarity = await randomLogit(model, inputs, COUNT, { method: 'saliency' }, { seed: 1 });
    for (const value of similarity) expect(value).toBeLessThan(0.95);
  });
});
