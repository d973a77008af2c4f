import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { explain } from '../../src/attribution/explain.ts';
import { Model } from '../../src/graph/model.ts';
import { loadImage } from '../../src/node/image.ts';
import { loadOnnx } from '../../src/onnx/load.ts';
import { testContext } from '../helpers/gpu.ts';

const root = new URL('../../', import.meta.url).pathname;

/** Three real digits from the samples, as the demo model expects them (grayscale, /255, 1×28×28). */
async function digits(count: number): Promise<Float32Array> {
  const files = readdirSync(`${root}samples/digits`)
    .filter((f) => f.endsWith('.png'))
    .sort()
    .slice(0, count);
  const images = await Promise.all(files.map((f) => loadImage(`${root}samples/digits/${f}`, { channels: 1, size: [28, 28] })));
  const inputs = new Float32Array(count * 784);
  images.forEach((image, i) => inputs.set(image.data, i * 784));
  return inputs;
}

describe('integrated gradients completeness on the demo digit CNN (Sundararajan 2017, axiom of completeness)', () => {
  it('|delta| falls as steps grow and is under 1% of |f(x) − f(baseline)| at 256 Gauss–Legendre steps', async () => {
    const model = await Model.create(await testContext(), loadOnnx(readFileSync(`${root}models/digits.onnx`)));
    const inputs = await digits(3);
    const relative: number[][] = [];
    for (const steps of [4, 16, 64, 256]) {
      const result = await explain(model, inputs, 3, { method: 'integrated-gradients', steps, rule: 'gausslegendre' });
      // f(x) − f(0) from the attribution and delta: Σattr − delta.
      relative.push(
        Array.from(result.delta!, (delta, i) => {
          const sum = result.attribution.subarray(i * 784, (i + 1) * 784).reduce((a, b) => a + b, 0);
          return Math.abs(delta) / Math.abs(sum - delta);
        }),
      );
    }
    for (let i = 0; i < 3; i++) {
      const errors = relative.map((r) => r[i]!);
      expect(errors[3], `input ${i}: ${errors.join(', ')}`).toBeLessThan(0.01);
      expect(errors[3]!, `input ${i} falls from 4 to 256 steps`).toBeLessThan(errors[0]!);
    }
    model.destroy();
  });
});
