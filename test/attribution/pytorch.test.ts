import { readFileSync } from 'node:fs';
import { describe, it } from 'vitest';
import { explain, type ExplainOptions } from '../../src/attribution/explain.ts';
import { toFloat32, readNpy } from '../../src/io/npy.ts';
import { Model } from '../../src/graph/model.ts';
import { loadOnnx } from '../../src/onnx/load.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';

// Attributions from plain torch autograd with Captum's formulas (fixtures/make_fixtures.py, fixtures/README.md).
const dir = new URL('../../fixtures/pytorch/', import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(`${dir}manifest.json`, 'utf8')) as {
  models: Record<string, { onnx: Record<string, string>; batch: number; targets: number[] }>;
};
const npy = (path: string) => toFloat32(readNpy(readFileSync(`${dir}${path}`)));

// f32 GPU against torch float64 rounded to f32: the fixtures measured ~6e-7 of the peak for plain gradients;
// sums over 16 path steps or 8 noise samples add a few ulps each, so 1e-5 of the array's peak holds with margin.
const peakTolerance = (expected: Float32Array) => ({ abs: 1e-5 * Math.max(...expected.map(Math.abs)), rel: 0 });

const CASES: [string, string, Omit<ExplainOptions, 'target'>][] = [
  ['saliency (signed)', 'saliency.npy', { method: 'saliency', absolute: false }],
  ['saliency (abs, Captum default)', 'saliency_abs.npy', { method: 'saliency' }],
  ['gradient × input', 'gradient_x_input.npy', { method: 'gradient-x-input' }],
  ['integrated gradients, Gauss–Legendre 16', 'ig_gausslegendre16.npy', { method: 'integrated-gradients', steps: 16, rule: 'gausslegendre' }],
  [
    "integrated gradients, Captum's riemann_trapezoid 16",
    'ig_riemann_trapezoid16.npy',
    { method: 'integrated-gradients', steps: 16, rule: 'riemann_trapezoid' },
  ],
  ['guided backprop', 'guided_backprop.npy', { method: 'guided-backprop' }],
  ['deconvnet', 'deconvnet.npy', { method: 'deconvnet' }],
];

const NOISE_CASES: [string, string, Omit<ExplainOptions, 'target' | 'noise'>][] = [
  ['SmoothGrad with the given noise', 'smoothgrad.npy', { method: 'smoothgrad' }],
  ['SmoothGrad of abs (NoiseTunnel(Saliency))', 'smoothgrad_abs.npy', { method: 'saliency', noiseTunnel: 'smoothgrad' }],
  ['SmoothGrad²', 'smoothgrad_sq.npy', { method: 'smoothgrad-sq' }],
  ['VarGrad', 'vargrad.npy', { method: 'vargrad' }],
];

// Opened at the top level, so the device outlives every describe block below (testContext destroys it after the file).
const context = await testContext();

for (const name of ['resnet', 'cnn']) {
  const spec = manifest.models[name]!;
  describe(`${name}: gradlens attributions match PyTorch (opset 17)`, async () => {
    let model: Model;
    try {
      model = await Model.create(context, loadOnnx(readFileSync(`${dir}${spec.onnx['17']}`)));
    } catch (error) {
      it.skip(`${name} does not load yet: ${(error as Error).message.slice(0, 120)}`, () => {});
      return;
    }
    const inputs = npy(`${name}/input.npy`);
    for (const [label, file, options] of CASES) {
      it(label, async () => {
        const result = await explain(model, inputs, spec.batch, { ...options, target: spec.targets } as ExplainOptions);
        const expected = npy(`${name}/${file}`);
        expectAllClose(result.attribution, expected, peakTolerance(expected), label);
      });
    }
    for (const [label, file, options] of NOISE_CASES) {
      it(label, async () => {
        const noise = npy(`${name}/noise.npy`);
        const samples = noise.length / inputs.length;
        const result = await explain(model, inputs, spec.batch, { ...options, target: spec.targets, samples, noise } as ExplainOptions);
        const expected = npy(`${name}/${file}`);
        expectAllClose(result.attribution, expected, peakTolerance(expected), label);
      });
    }
  });
}
