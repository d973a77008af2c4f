import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/graph/builder.ts';
import type { Graph } from '../../src/graph/ir.ts';
import { Model } from '../../src/graph/model.ts';
import { resnet18, resnet50, smallCnn } from '../../src/graph/models.ts';
import type { Rules } from '../reference/graph.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { referenceForward, referenceGradients } from '../reference/graph.ts';
import { randomTensor } from '../reference/random.ts';

/**
 * Whole-network gradients, three ways: the GPU's (f32, BatchNorm folded, ReLUs fused) against the float64
 * interpreter's reverse mode, and both against central finite differences of the float64 forward along random
 * directions: d/dh Σ seed·f(x + h·v) at h = 0 must equal ⟨∇, v⟩.
 */

// Deep f32 chains (ResNet: ~20 layers, sums of up to 288 terms) against float64: relative 1e-3 of the largest
// gradient entry covers the rounding; any wrong rule is off by far more.
function scaled(expected: ArrayLike<number>) {
  const peak = Math.max(...Array.from(expected, Math.abs));
  return { abs: 1e-3 * peak, rel: 1e-3 };
}

function directionalCheck(graph: Graph, input: Float32Array, seed: Float32Array, batch: number, gradient: ArrayLike<number>, trials = 3): void {
  const loss = (x: Float64Array) => {
    const out = referenceForward(graph, x, batch).get(graph.output)!;
    return out.reduce((sum, v, i) => sum + v * seed[i]!, 0);
  };
  for (let trial = 0; trial < trials; trial++) {
    const v = randomTensor(input.length, 900 + trial);
    const h = 1e-5;
    const up = loss(Float64Array.from(input, (x, i) => x + h * v[i]!));
    const down = loss(Float64Array.from(input, (x, i) => x - h * v[i]!));
    const numeric = (up - down) / (2 * h);
    const analytic = Array.from(gradient).reduce((sum, g, i) => sum + g * v[i]!, 0);
    expect(Math.abs(analytic - numeric), `direction ${trial}: analytic ${analytic}, numeric ${numeric}`).toBeLessThanOrEqual(
      1e-3 * Math.abs(numeric) + 1e-4,
    );
  }
}

async function check(graph: Graph, batch: number, options: { fuse?: boolean; rules?: Rules; finiteDifferences?: boolean } = {}) {
  const model = await Model.create(await testContext(), graph);
  try {
    const plan = await model.plan({ batch, objective: 'given', fuse: options.fuse ?? true, rules: options.rules ?? 'standard' });
    const input = randomTensor(batch * graph.inputShape.reduce((a, b) => a * b, 1), 31, 1);
    const outputs = model.outputShape.reduce((a, b) => a * b, 1) * batch;
    const seed = randomTensor(outputs, 32);
    const values = referenceForward(graph, input, batch);
    const expected = referenceGradients(graph, values, seed, batch, options.rules ?? 'standard').get(graph.input)!;
    const result = await plan.run({ input, outputGradient: seed });
    expectAllClose(result.output, values.get(graph.output)!, scaled(values.get(graph.output)!), 'output');
    expectAllClose(result.inputGradient!, expected, scaled(expected), 'input gradient');
    if (options.finiteDifferences) {
      directionalCheck(graph, input, seed, batch, expected);
      directionalCheck(graph, input, seed, batch, result.inputGradient!);
    }
    plan.destroy();
  } finally {
    model.destroy();
  }
}

/** Dense layers, GELU, LayerNorm, and a MatMul of two activations (both operands need gradients). */
function mlp(): Graph {
  const b = new GraphBuilder('mlp', 9);
  const x = b.input([4, 6]);
  const h = b.node('Tanh', [b.layerNorm(b.node('Gelu', [x]))]);
  const attention = b.node('MatMul', [h, b.node('Transpose', [h], { perm: [0, 2, 1] })]); // [4, 4]
  const mixed = b.node('MatMul', [b.node('Softmax', [attention], { axis: -1 }), h]); // [4, 6]
  const flat = b.node('Flatten', [mixed], { axis: 1 });
  return b.build(b.gemm(b.relu(b.gemm(flat, 16)), 5));
}

describe('whole-network input gradients', () => {
  it('small CNN: GPU = float64 reverse mode = finite differences', () => check(smallCnn({ inputSize: 12 }), 2, { finiteDifferences: true }));
  it('small CNN without ReLU fusion gives the same gradient', () => check(smallCnn({ inputSize: 12 }), 2, { fuse: false }));
  it('small CNN under the Guided Backprop rule', () => check(smallCnn({ inputSize: 12 }), 2, { rules: 'guided-backprop' }));
  it('small CNN under the Deconvnet rule', () => check(smallCnn({ inputSize: 12 }), 2, { rules: 'deconvnet' }));
  it('ResNet-18-shaped (BatchNorm, residual adds, strided convs) at width 4 on 32×32', () =>
    check(resnet18({ width: 4, inputSize: 32, classes: 10 }), 2, { finiteDifferences: true }));
  it('ResNet-50-shaped (bottleneck blocks, strided 3×3, 1×1 projections) at width 2 on 16×16', () =>
    check(resnet50({ width: 2, inputSize: 16, classes: 10 }), 2));
  it('MLP with GELU, LayerNorm, softmax attention (MatMul of activations) and Gemm', () => check(mlp(), 3, { finiteDifferences: true }));
});
