import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { configureLens, lens, releaseLens } from '../../components/explain-controller.ts';
import { explain } from '../../src/attribution/explain.ts';
import { Model } from '../../src/graph/model.ts';
import { loadOnnx } from '../../src/onnx/load.ts';
import { halfContext } from '../helpers/half.ts';
import { expectLogitsClose, oracleLogits } from '../helpers/oracle.ts';

// AdapterOptions.precision 'f16' on whole models: the Conv, Gemm and constant-MatMul weights as f16, against the same models
// in f32 on the same adapter and against onnxruntime. The bounds are a few times what was measured (docs/performance.md).
const half = await halfContext({ precision: 'f16' });
const full = half.context ? await halfContext() : half;
const models: Model[] = [];
afterAll(() => models.forEach((model) => model.destroy()));

const bytesOf = (name: string) => new Uint8Array(readFileSync(new URL(`../../models/${name}`, import.meta.url)));

async function both(bytes: Uint8Array, options: Parameters<typeof loadOnnx>[1] = {}): Promise<[Model, Model]> {
  const pair = [await Model.create(half.context!, loadOnnx(bytes, options)), await Model.create(full.context!, loadOnnx(bytes, options))] as [
    Model,
    Model,
  ];
  models.push(...pair);
  return pair;
}

/** The largest difference, as a fraction of the reference's largest magnitude. */
function ofPeak(actual: ArrayLike<number>, reference: ArrayLike<number>): number {
  let [difference, peak] = [0, 0];
  for (let i = 0; i < reference.length; i++) {
    difference = Math.max(difference, Math.abs(actual[i]! - reference[i]!));
    peak = Math.max(peak, Math.abs(reference[i]!));
  }
  return difference / peak;
}

describe.skipIf(!half.context)(`precision 'f16' on whole models (${half.why || half.context?.report.description})`, () => {
  it('the context says so', () => {
    expect(half.context!.report.precision).toBe('f16');
    expect(full.context!.report.precision).toBe('f32');
    if (half.context!.report.software) expect(half.context!.report.note).toMatch(/f16 weights on a software adapter are no faster/);
  });

  it('digits.onnx (Conv, Gemm): logits within 2e-3 of onnxruntime; IG-32 within 5e-3 of f32, and still complete', async () => {
    const bytes = bytesOf('digits.onnx');
    const [model16, model32] = await both(bytes);
    const input = Float32Array.from({ length: 784 }, (_, i) => ((i * 7919) % 255) / 255);
    const plan = await model16.plan({ batch: 1, objective: 'logit' });
    const { output } = await plan.run({ input, target: 0 });
    plan.destroy();
    expectLogitsClose(output, await oracleLogits(bytes, input, [1, 1, 28, 28]), 'digits f16', 2e-3);
    const options = { method: 'integrated-gradients', steps: 32, target: 3 } as const;
    const [a16, a32] = [await explain(model16, input, 1, options), await explain(model32, input, 1, options)];
    const error = ofPeak(a16.attribution, a32.attribution);
    expect(error).toBeGreaterThan(0); // the f16 weights were read
    expect(error).toBeLessThan(5e-3);
    // Completeness (Σ attribution = f(x) − f(baseline), f the f16 model's own): as close as the f32 model's.
    expect(Math.abs(a16.delta![0]!)).toBeLessThan(Math.max(2 * Math.abs(a32.delta![0]!), 1e-3 * Math.abs(a32.score[0]!)));
  });

  it("NoiseGrad's perturbed weights reach the f16 copies (made again each run): within 5e-3 of f32's NoiseGrad", async () => {
    const [model16, model32] = await both(bytesOf('digits.onnx'));
    const input = Float32Array.from({ length: 784 }, (_, i) => ((i * 7919) % 255) / 255);
    const noisy = { method: 'noisegrad', baseMethod: 'saliency', weightSamples: 3, weightStdev: 0.3, target: 3, seed: 7 } as const;
    const [n16, n32] = [await explain(model16, input, 1, noisy), await explain(model32, input, 1, noisy)];
    const error = ofPeak(n16.attribution, n32.attribution);
    expect(error).toBeLessThan(5e-3);
    // A copy left from the first model would repeat it: the mean of one model, far from the mean of three.
    const first = await explain(model32, input, 1, { ...noisy, weightSamples: 1 });
    expect(ofPeak(first.attribution, n32.attribution)).toBeGreaterThan(20 * error);
  });

  it("the widgets' shared Lens opens with configureLens's options, and refuses new ones once open", async () => {
    configureLens({ backend: 'vulkan', precision: 'f16' });
    try {
      expect((await (await lens()).adapter()).precision).toBe('f16');
      expect(() => configureLens({})).toThrow(expect.objectContaining({ code: 'BAD_PARAMS', message: expect.stringMatching(/releaseLens/) }));
    } finally {
      await releaseLens();
      configureLens({});
    }
  });

  it("LRP: each layer's modified weights (scratch slots layers share) stay f32; within 5e-3 of f32's relevance", async () => {
    const [model16, model32] = await both(bytesOf('digits.onnx'));
    const input = Float32Array.from({ length: 784 }, (_, i) => ((i * 7919) % 255) / 255);
    for (const composite of ['epsilon-plus-flat', 'epsilon-gamma-box', 'zplus'] as const) {
      const options = { method: 'lrp', composite, target: 3 } as const;
      const error = ofPeak((await explain(model16, input, 1, options)).attribution, (await explain(model32, input, 1, options)).attribution);
      expect(error, composite).toBeLessThan(5e-3);
    }
  });

  it('the other backward rule sets and a layer method: DeepLift, Guided Backprop, RectGrad, Grad-CAM within 5e-3 of f32', async () => {
    const [model16, model32] = await both(bytesOf('digits.onnx'));
    const input = Float32Array.from({ length: 784 }, (_, i) => ((i * 7919) % 255) / 255);
    for (const method of ['deeplift', 'guided-backprop', 'rectgrad', 'grad-cam'] as const) {
      const options = { method, target: 3 } as const;
      const error = ofPeak((await explain(model16, input, 1, options)).attribution, (await explain(model32, input, 1, options)).attribution);
      expect(error, method).toBeLessThan(5e-3);
    }
  });

  it('tabular.onnx (Gemm): logits within 2e-3 of onnxruntime; saliency within 3e-4 of f32', async () => {
    const bytes = bytesOf('tabular.onnx');
    const [model16, model32] = await both(bytes);
    const input = Float32Array.from({ length: 30 }, (_, i) => Math.sin(i + 1) * 3);
    const plan = await model16.plan({ batch: 1, objective: 'logit' });
    const { output } = await plan.run({ input, target: 0 });
    plan.destroy();
    expectLogitsClose(output, await oracleLogits(bytes, input, [1, 30]), 'tabular f16', 2e-3);
    const options = { method: 'saliency', target: 1 } as const;
    const error = ofPeak((await explain(model16, input, 1, options)).attribution, (await explain(model32, input, 1, options)).attribution);
    expect(error).toBeGreaterThan(0);
    expect(error).toBeLessThan(3e-4);
  });

  it('sentiment.onnx (MatMul by constant weights): logits within 2e-3 of onnxruntime', async () => {
    const bytes = bytesOf('sentiment.onnx');
    const { ids } = JSON.parse(readFileSync(new URL('../../samples/text/was_not_good.json', import.meta.url), 'utf8')) as { ids: number[] };
    const [model16] = await both(bytes, { inputShape: [ids.length] });
    const plan = await model16.plan({ batch: 1, objective: 'logit' });
    const input = Float32Array.from(ids);
    const { output } = await plan.run({ input, target: 0 });
    plan.destroy();
    expectLogitsClose(output, await oracleLogits(bytes, input, [1, ids.length]), 'sentiment f16', 2e-3);
  });
});
