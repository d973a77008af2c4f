import { describe, expect, it } from 'vitest';
import type { ExplainOptions } from '../../src/attribution/explain.ts';
import { METHODS } from '../../src/attribution/registry.ts';
import { quadrature } from '../../src/attribution/quadrature.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import type { Graph } from '../../src/graph/ir.ts';
import { Model } from '../../src/graph/model.ts';
import { smallCnn } from '../../src/graph/models.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { engineNormal } from '../reference/philox.ts';
import { randomTensor } from '../reference/random.ts';
import { explainGraph, tinyRelu } from '../helpers/explain.ts';

const EXACT = { abs: 1e-5, rel: 1e-5 };

function linear(features: number, classes: number, seed = 4) {
  const b = new GraphBuilder('linear', seed);
  const graph = b.build(b.gemm(b.input([features]), classes, {}, 'logits'));
  const weight = [...graph.constants.values()].find((c) => c.shape.length === 2)!.data;
  return { graph, row: (t: number) => Array.from(weight.slice(t * features, (t + 1) * features)) };
}

const run = explainGraph;

describe('methods on a linear model, where each has a closed form', () => {
  const { graph, row } = linear(6, 3);
  const x = randomTensor(12, 51, 2);
  const w = [...row(1), ...row(1)];

  it('saliency is |W_t| by default (Captum abs=True) and W_t when signed', async () => {
    expectAllClose((await run(graph, x, 2, { method: 'saliency', target: 1 })).attribution, w.map(Math.abs), EXACT);
    expectAllClose((await run(graph, x, 2, { method: 'saliency', target: 1, absolute: false })).attribution, w, EXACT);
  });

  it('gradient × input is x ⊙ W_t', async () => {
    expectAllClose(
      (await run(graph, x, 2, { method: 'gradient-x-input', target: 1 })).attribution,
      w.map((v, i) => v * x[i]!),
      EXACT,
    );
  });

  it('integrated gradients is (x − b) ⊙ W_t with a zero delta, for every rule whose weights sum to 1', async () => {
    const baseline = randomTensor(6, 52);
    for (const rule of ['gausslegendre', 'riemann_left', 'riemann_right', 'riemann_middle'] as const) {
      const result = await run(graph, x, 2, { method: 'integrated-gradients', target: 1, rule, steps: 7, baseline });
      expectAllClose(
        result.attribution,
        w.map((v, i) => v * (x[i]! - baseline[i % 6]!)),
        EXACT,
        rule,
      );
      expectAllClose(result.delta!, [0, 0], { abs: 1e-4, rel: 0 }, `${rule} delta`);
    }
  });

  it("Captum's riemann_trapezoid weights sum to (n − 1)/n, so IG is scaled by that on a linear model", async () => {
    const n = 8;
    const result = await run(graph, x, 2, { method: 'integrated-gradients', target: 1, rule: 'riemann_trapezoid', steps: n });
    expectAllClose(
      result.attribution,
      w.map((v, i) => (v * x[i]! * (n - 1)) / n),
      EXACT,
    );
  });

  it('expected gradients average (x − b) ⊙ W_t over the drawn baselines', async () => {
    // Linear: g is W_t at every α, so the mean is W_t ⊙ (x − mean of the drawn baselines); with one baseline, exact.
    const set = randomTensor(6, 53);
    const result = await run(graph, x, 2, { method: 'expected-gradients', target: 1, baselines: set, samples: 4, seed: 9 });
    expectAllClose(
      result.attribution,
      w.map((v, i) => v * (x[i]! - set[i % 6]!)),
      EXACT,
    );
  });
});

describe('quadrature', () => {
  it('Gauss–Legendre 4 has the textbook nodes and weights (mapped to [0, 1])', () => {
    const { alphas, weights } = quadrature('gausslegendre', 4);
    const nodes = [-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526];
    const ws = [0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538];
    expectAllClose(
      alphas,
      nodes.map((t) => Math.fround(0.5 * (t + 1))),
      { abs: 0, rel: 0 },
    );
    expectAllClose(
      weights,
      ws.map((t) => Math.fround(0.5 * t)),
      { abs: 0, rel: 0 },
    );
  });

  it('Gauss–Legendre integrates polynomials of degree 2n − 1 exactly', () => {
    const { alphas, weights } = quadrature('gausslegendre', 5);
    const integral = alphas.reduce((sum, a, k) => sum + weights[k]! * a ** 9, 0);
    expect(integral).toBeCloseTo(1 / 10, 6);
  });
});

describe('a tiny ReLU net by hand', () => {
  it('saliency: only active units pass gradient', async () => {
    // x = (1, 2): h1 = −1 (off), h2 = 4 (on) → ∂f/∂x = −2 · (2, 1) = (−4, −2).
    const result = await run(tinyRelu(), Float32Array.of(1, 2), 1, { method: 'saliency', target: 0, absolute: false });
    expect([...result.attribution]).toEqual([-4, -2]);
  });

  it('guided backprop drops the negative gradient at the active unit; deconvnet ignores the forward mask', async () => {
    // Upstream at h = c = (3, −2). Guided: h1 off → 0, h2 gets −2 < 0 → 0: all zero.
    expect([...(await run(tinyRelu(), Float32Array.of(1, 2), 1, { method: 'guided-backprop', target: 0 })).attribution]).toEqual([0, 0]);
    // Deconvnet: relu(c) = (3, 0) → Aᵀ (3, 0) = (3, −3).
    expect([...(await run(tinyRelu(), Float32Array.of(1, 2), 1, { method: 'deconvnet', target: 0 })).attribution]).toEqual([3, -3]);
  });
});

/** Feature `dead` has zero weight into every unit: the model cannot see it. */
function deadFeatureModel(dead: number): Graph {
  const b = new GraphBuilder('dead', 6);
  const x = b.input([5]);
  const graph = b.build(b.gemm(b.relu(b.gemm(x, 8)), 4));
  const first = [...graph.constants.values()].find((c) => c.shape[0] === 8 && c.shape[1] === 5)!;
  for (let unit = 0; unit < 8; unit++) first.data[unit * 5 + dead] = 0;
  return graph;
}

describe('a feature the model ignores gets zero from every gradient method', () => {
  const graph = deadFeatureModel(3);
  const x = randomTensor(10, 61, 1);
  const set = randomTensor(15, 62, 1);
  // Grad-CAM's maps come from a layer's spatial grid, upsampled: they are not per-feature, and need image inputs.
  const layerMaps = new Set(['grad-cam', 'grad-cam-plus-plus', 'guided-grad-cam']);
  // Layer and neuron methods explain a layer, not the input's features (test/attribution/layers.test.ts).
  const inputMethods = (Object.keys(METHODS) as (keyof typeof METHODS)[]).filter((m) => !layerMaps.has(m) && !METHODS[m].capabilities.layer);
  for (const method of inputMethods) {
    it(method, async () => {
      const options: ExplainOptions = { method, seed: 5, samples: 4, steps: 8 };
      if (method === 'expected-gradients' || method === 'gradient-shap') options.baselines = set;
      if (method === 'lrp') options.composite = 'epsilon'; // the default's flat first layer ignores weights by design
      const { attribution } = await run(graph, x, 2, options);
      expect([attribution[3], attribution[8]]).toEqual([0, 0]);
      expect(attribution.some((v) => v !== 0)).toBe(true);
    });
  }
});

describe('noise', () => {
  const graph = smallCnn({ inputSize: 8, seed: 3 });
  const x = randomTensor(2 * 64, 71, 1);

  it('SmoothGrad equals the mean of the gradients at the noisy inputs drawn from the seeded stream', async () => {
    const [samples, stdev, seed] = [3, 0.2, 77];
    const result = await run(graph, x, 2, { method: 'smoothgrad', target: [1, 4], samples, stdev, seed });
    const model = await Model.create(await testContext(), graph);
    const plan = await model.plan({ batch: 2 * samples });
    const noisy = Float32Array.from({ length: 2 * samples * 64 }, (_, flat) => {
      const [point, e] = [Math.floor(flat / 64), flat % 64];
      const [i, s] = [Math.floor(point / samples), point % samples];
      return x[i * 64 + e]! + stdev * engineNormal(seed, e, s, i);
    });
    const { inputGradient } = await plan.run({ input: noisy, target: [1, 1, 1, 4, 4, 4] });
    const mean = Array.from({ length: 128 }, (_, flat) => {
      const [i, e] = [Math.floor(flat / 64), flat % 64];
      let sum = 0;
      for (let s = 0; s < samples; s++) sum += inputGradient![(i * samples + s) * 64 + e]! / samples;
      return sum;
    });
    model.destroy();
    // Both sides are f32 GPU sums of the same gradients; only the noise's f32 cos/log may differ by ulps.
    expectAllClose(result.attribution, mean, { abs: 1e-4, rel: 1e-3 });
  });

  it('the same seed reproduces the map; another seed changes it; no seed draws one and reports it', async () => {
    const a = await run(graph, x, 2, { method: 'smoothgrad', samples: 4, seed: 1 });
    const b = await run(graph, x, 2, { method: 'smoothgrad', samples: 4, seed: 1 });
    const c = await run(graph, x, 2, { method: 'smoothgrad', samples: 4, seed: 2 });
    expect([...a.attribution]).toEqual([...b.attribution]);
    expect([...a.attribution]).not.toEqual([...c.attribution]);
    const d = await run(graph, x, 2, { method: 'smoothgrad', samples: 2 });
    expect(Number.isInteger(d.seed)).toBe(true);
    expect([...(await run(graph, x, 2, { method: 'smoothgrad', samples: 2, seed: d.seed })).attribution]).toEqual([...d.attribution]);
  });

  it('SmoothTaylor is the mean of (x − z) ⊙ g(z) over the seeded noisy points z', async () => {
    const { graph: lin, row } = linear(6, 3);
    const inputs = randomTensor(6, 81);
    const [samples, stdev, seed] = [4, 0.5, 99];
    const result = await run(lin, inputs, 1, { method: 'smooth-taylor', target: 2, samples, stdev, seed });
    // g(z) = W_t on a linear model, and x − z = −σε.
    const expected = row(2).map((w, e) => {
      let mean = 0;
      for (let s = 0; s < samples; s++) mean += (-stdev * engineNormal(seed, e, s, 0) * w) / samples;
      return mean;
    });
    // box_muller's ε is within 2.4e-6 of the float64 draw (test/kernels/attribution/box-muller.test.ts).
    expectAllClose(result.attribution, expected, { abs: stdev * 2.4e-6 * Math.max(...row(2).map(Math.abs)), rel: 1e-5 });
  });

  it("with stream ids, an input's noise does not depend on the other inputs of its call", async () => {
    const both = await run(graph, x, 2, { method: 'smoothgrad', samples: 3, seed: 4, streams: [70, 71] });
    const alone = await run(graph, x.slice(64), 1, { method: 'smoothgrad', samples: 3, seed: 4, streams: [71] });
    // Same points, same gradients; only a different batch's kernel tiling may change the last bits.
    expectAllClose(alone.attribution, both.attribution.slice(64), { abs: 1e-6, rel: 1e-5 });
    const shifted = await run(graph, x.slice(64), 1, { method: 'smoothgrad', samples: 3, seed: 4 });
    expect([...shifted.attribution]).not.toEqual([...alone.attribution]); // default stream = index 0, a different draw
  });

  it('VarGrad is never negative and SmoothGrad² is at least SmoothGrad squared', async () => {
    const v = await run(graph, x, 2, { method: 'vargrad', samples: 6, seed: 3 });
    expect(Math.min(...v.attribution)).toBeGreaterThanOrEqual(0);
    const sq = await run(graph, x, 2, { method: 'smoothgrad-sq', samples: 6, seed: 3 });
    const mean = await run(graph, x, 2, { method: 'smoothgrad', samples: 6, seed: 3 });
    sq.attribution.forEach((value, i) => expect(value).toBeGreaterThanOrEqual(mean.attribution[i]! ** 2 - 1e-6));
  });
});
