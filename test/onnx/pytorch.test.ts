import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Model } from '../../src/graph/model.ts';
import type { RunResult } from '../../src/graph/plan.ts';
import { readNpy, toFloat32 } from '../../src/io/npy.ts';
import { loadOnnx } from '../../src/onnx/load.ts';
import { expectAllClose, type Tolerance } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';

/**
 * Models built and exported by PyTorch (fixtures/make_fixtures.py, torch.onnx.export at opsets 13 and 17 with a
 * dynamic batch), loaded with loadOnnx and run on the GPU: logits, input gradients and captured inner activations
 * and gradients must match PyTorch's float64 autograd on the same float32 weights and inputs.
 */

interface Capture {
  module: string;
  tensor: Record<string, string>;
  shape: number[];
  activation: string;
  gradient: string;
}

interface FixtureModel {
  onnx: Record<string, string>;
  opsets: number[];
  inputShape: number[];
  batch: number;
  input: string;
  target: string;
  logits: string;
  gradLogit: string;
  gradLogSoftmax: string;
  captures: Capture[];
}

const root = new URL('../../fixtures/pytorch/', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('manifest.json', root), 'utf8')) as { models: Record<string, FixtureModel> };
const npy = (path: string) => readNpy(new Uint8Array(readFileSync(new URL(path, root))));
const float32 = (path: string) => toFloat32(npy(path));

// The GPU runs in float32 (BatchNorm folded into the convs in float64, ReLUs fused, its own order of sums); the
// reference is float64. Errors scale with the array's magnitude: measured at most 6e-7 of the array's peak absolute
// value on SwiftShader (plain float32 PyTorch: 3e-7, manifest float32Deviation). 1e-5 of the peak leaves room for other
// adapters' sum orders and FMA, yet catches a wrong epsilon, pad, clip bound or max-pool tie rule.
function tolerance(expected: ArrayLike<number>): Tolerance {
  const peak = Math.max(...Array.from(expected, Math.abs));
  return { abs: 1e-5 * peak, rel: 0 };
}

function expectMatches(actual: ArrayLike<number> | undefined, expected: Float32Array, label: string): void {
  expect(actual, `${label} missing`).toBeDefined();
  expectAllClose(actual!, expected, tolerance(expected), label);
}

for (const [name, fixture] of Object.entries(manifest.models)) {
  for (const opset of fixture.opsets) {
    describe(`${name} exported by PyTorch at opset ${opset}`, () => {
      const input = float32(fixture.input);
      const targets = Array.from(npy(fixture.target).data as BigInt64Array, Number);
      const captures = fixture.captures.map((capture) => ({ ...capture, name: capture.tensor[opset]! }));
      let model: Model;
      let logit: RunResult;
      let logProbability: RunResult;

      beforeAll(async () => {
        const graph = loadOnnx(new Uint8Array(readFileSync(new URL(fixture.onnx[opset]!, root))), { name: `${name}.opset${opset}` });
        model = await Model.create(await testContext(), graph);
        const logitPlan = await model.plan({ batch: fixture.batch, objective: 'logit', capture: captures.map((c) => c.name) });
        logit = await logitPlan.run({ input, target: targets });
        logitPlan.destroy();
        const logProbabilityPlan = await model.plan({ batch: fixture.batch, objective: 'log-probability' });
        logProbability = await logProbabilityPlan.run({ input, target: targets });
        logProbabilityPlan.destroy();
      });
      afterAll(() => model?.destroy());

      it('loads with the input shape PyTorch was given, batch left dynamic', () => {
        expect(model.graph.inputShape).toEqual(fixture.inputShape);
      });

      it('logits match', () => expectMatches(logit.output, float32(fixture.logits), 'logits'));

      it('scores the fixed target of each sample', () => expect(Array.from(logit.target!)).toEqual(targets));

      it('input gradient of the target logit matches', () => expectMatches(logit.inputGradient, float32(fixture.gradLogit), 'input gradient'));

      it('input gradient of the target log-probability (log-softmax) matches', () =>
        expectMatches(logProbability.inputGradient, float32(fixture.gradLogSoftmax), 'log-softmax input gradient'));

      for (const capture of captures) {
        it(`activation and gradient at ${capture.module} (${capture.name}) match`, () => {
          expectMatches(logit.activations[capture.name], float32(capture.activation), `${capture.name} activation`);
          expectMatches(logit.gradients[capture.name], float32(capture.gradient), `${capture.name} gradient`);
        });
      }
    });
  }
}
