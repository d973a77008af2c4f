import { describe, expect, it } from 'vitest';
import type { ExplainOptions } from '../../src/attribution/explain.ts';
import { quadrature, type IntegrationRule } from '../../src/attribution/quadrature.ts';
import { isGradlensError } from '../../src/gpu/errors.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import { sizeOf, type Graph } from '../../src/graph/ir.ts';
import { siteGraph, type LayerSite } from '../../src/graph/site.ts';
import { inferShapes } from '../../src/graph/shapes.ts';
import { expectAllClose } from '../helpers/close.ts';
import { explainGraph } from '../helpers/explain.ts';
import { numericGradient } from '../reference/finite-difference.ts';
import { referenceForward, referenceGradients } from '../reference/graph.ts';
import { randomTensor } from '../reference/random.ts';

// f32 on the GPU against the float64 interpreter, sums of tens of path points of order-1 terms.
const TOLERANCE = { abs: 5e-5, rel: 5e-4 };

/** conv1 → relu1 → conv2, Add(conv2, relu1) → relu2 → dense: relu1 has two readers (conv2 and the residual Add). */
function residualNet(): Graph {
  const b = new GraphBuilder('residual', 7);
  const x = b.input([2, 5, 5]);
  const r1 = b.relu(b.conv(x, { channels: 3, kernel: 3 }, 'conv1'), 'relu1');
  const sum = b.node('Add', [b.conv(r1, { channels: 3, kernel: 3 }, 'conv2'), r1], {}, 'add');
  return b.build(b.gemm(b.node('Flatten', [b.relu(sum, 'relu2')], { axis: 1 }, 'flat'), 4, {}, 'fc'));
}

/** Token ids → embedding rows → tanh ⊙ itself → dense: Captum's text route attributes at `embedded`. */
function tokenNet(): Graph {
  const b = new GraphBuilder('tokens', 13);
  const ids = b.input([5]);
  const embedded = b.node('Gather', [b.constant(randomTensor(7 * 4, 90), [7, 4], 'table'), ids], { axis: 0 }, 'embedded');
  const mixed = b.node('Mul', [b.node('Tanh', [embedded]), embedded], {}, 'mixed');
  return b.build(b.gemm(b.node('Flatten', [mixed], { axis: 1 }), 3, {}, 'fc'));
}

const count = 2;
const graph = residualNet();
const inputs = randomTensor(count * 50, 3, 1);
const target = [1, 3];
const CLASSES = 4;

/** One-hot seeds of the targets, for `points` samples, each point's target its input's (points of an input are together). */
const seedFor = (targets: readonly number[], classes: number, perInput = 1) =>
  Float64Array.from({ length: targets.length * perInput * classes }, (_, i) => {
    const point = Math.floor(i / classes);
    return Number(i % classes === targets[Math.floor(point / perInput)]);
  });

/** Each input's row repeated `times`. */
const repeatRows = (rows: ArrayLike<number>, size: number, times: number) =>
  Float64Array.from({ length: (rows.length / size) * times * size }, (_, i) => rows[Math.floor(i / (size * times)) * size + (i % size)]!);

/** The float64 interpreter's layer site: the tensor, or the copy one reader reads (attribute_to_layer_input). */
const referenceSite = (site: LayerSite) => {
  const sited = siteGraph(graph, site, undefined);
  return { graph: sited.graph, tensor: sited.site! };
};

/** Points b + α_k (x − b), input-major. */
function pathPoints(x: ArrayLike<number>, b: ArrayLike<number>, size: number, alphas: ArrayLike<number>): Float64Array {
  const n = alphas.length;
  return Float64Array.from({ length: (x.length / size) * n * size }, (_, flat) => {
    const e = flat % size;
    const p = Math.floor(flat / size);
    const [i, k] = [Math.floor(p / n), p % n];
    const j = i * size + e;
    return b[j]! + alphas[k]! * (x[j]! - b[j]!);
  });
}

/** ∂f_target/∂(layer) and the layer's value at each sample of `batch`, optionally with the layer's value replaced. */
function layerGradients(g: Graph, tensor: string, x: Float64Array, batch: number, perInput: number, replaced?: Float64Array) {
  const values = referenceForward(g, x, batch, replaced ? new Map([[tensor, replaced]]) : new Map());
  const gradients = referenceGradients(g, values, seedFor(target, CLASSES, perInput), batch).get(tensor)!;
  return { values: values.get(tensor)!, gradients, output: values.get(g.output)! };
}

const run = (options: Omit<ExplainOptions, 'target'>, x = inputs, g = graph) => explainGraph(g, x, count, { target, ...options });

describe('layer methods against their definitions in float64', () => {
  const layerSize = 75;

  for (const site of [{ tensor: 'relu1' }, { tensor: 'relu1', reader: 'conv2' }] as LayerSite[]) {
    const options = site.reader ? { layer: 'conv2', attributeToLayerInput: true } : { layer: 'relu1' };
    it(`layer integrated gradients: Σ_k w_k ∂f/∂y(y_k) ⊙ (y − y₀) along the layer's values (${JSON.stringify(options)})`, async () => {
      const rule: IntegrationRule = 'gausslegendre';
      const { alphas, weights } = quadrature(rule, 12);
      const baseline = new Float32Array(inputs.length).fill(0.25);
      const explanation = await run({ method: 'layer-integrated-gradients', ...options, steps: 12, rule, baseline });
      const { graph: g, tensor } = referenceSite(site);
      const y = referenceForward(g, inputs, count).get(tensor)!;
      const y0 = referenceForward(g, baseline, count).get(tensor)!;
      const points = pathPoints(y, y0, layerSize, alphas);
      const { gradients } = layerGradients(g, tensor, repeatRows(inputs, 50, 12), count * 12, 12, points);
      const expected = new Float64Array(count * layerSize);
      gradients.forEach((gk, flat) => {
        const p = Math.floor(flat / layerSize);
        const j = Math.floor(p / 12) * layerSize + (flat % layerSize);
        expected[j] = expected[j]! + weights[p % 12]! * gk * (y[j]! - y0[j]!);
      });
      expectAllClose(explanation.attribution, expected, TOLERANCE, 'layer IG');
      expect(explanation.shape).toEqual([count, 3, 5, 5]);
    });
  }

  it('layer integrated gradients is complete: Σ attribution = f(x) − f(x₀), the delta it reports', async () => {
    const explanation = await run({ method: 'layer-integrated-gradients', layer: 'relu1', steps: 256 });
    const f = referenceForward(graph, inputs, count).get('fc')!;
    const f0 = referenceForward(graph, new Float64Array(inputs.length), count).get('fc')!;
    for (let i = 0; i < count; i++) {
      const total = explanation.attribution.slice(i * layerSize, (i + 1) * layerSize).reduce((a, b) => a + b, 0);
      const change = f[i * CLASSES + target[i]!]! - f0[i * CLASSES + target[i]!]!;
      expect(Math.abs(total - change), `input ${i}: Σ ${total} vs Δf ${change}`).toBeLessThan(2e-3 * Math.max(1, Math.abs(change)));
      expect(explanation.delta![i]).toBeCloseTo(total - change, 4);
    }
  });

  it("attributeToLayerInput takes gradients at the input tensor through all its readers, as Captum's saved input", async () => {
    // Captum differentiates with respect to the module's input tensor itself; only LayerIG's replacement is conv2's alone.
    const atInput = await run({ method: 'layer-gradient-x-activation', layer: 'conv2', attributeToLayerInput: true });
    const atTensor = await run({ method: 'layer-gradient-x-activation', layer: 'relu1' });
    expect([...atInput.attribution]).toEqual([...atTensor.attribution]);
  });

  it('layer gradient × activation: ∂f/∂y ⊙ y', async () => {
    const explanation = await run({ method: 'layer-gradient-x-activation', layer: 'relu1' });
    const { values, gradients } = layerGradients(graph, 'relu1', Float64Array.from(inputs), count, 1);
    expectAllClose(
      explanation.attribution,
      gradients.map((g, i) => g * values[i]!),
      TOLERANCE,
    );
  });

  it('internal influence: Σ_k w_k ∂f/∂y(x_k) on the input path, and layer conductance: Σ_k ∂f/∂y(x_k) ⊙ (y_{k+1} − y_k)', async () => {
    const steps = 10;
    const baseline = new Float32Array(inputs.length).fill(-0.1);
    const influence = await run({ method: 'internal-influence', layer: 'relu1', steps, baseline });
    const conductance = await run({ method: 'layer-conductance', layer: 'relu1', steps, baseline });
    const expectedInfluence = new Float64Array(count * layerSize);
    const { alphas, weights } = quadrature('gausslegendre', steps);
    const atPoints = layerGradients(graph, 'relu1', pathPoints(inputs, baseline, 50, alphas), count * steps, steps);
    atPoints.gradients.forEach((g, flat) => {
      const p = Math.floor(flat / layerSize);
      const j = Math.floor(p / steps) * layerSize + (flat % layerSize);
      expectedInfluence[j] = expectedInfluence[j]! + weights[p % steps]! * g;
    });
    expectAllClose(influence.attribution, expectedInfluence, TOLERANCE, 'internal influence');
    // Captum's LayerConductance takes the rule's steps + 1 nodes.
    const nodes = quadrature('gausslegendre', steps + 1).alphas;
    const along = layerGradients(graph, 'relu1', pathPoints(inputs, baseline, 50, nodes), count * (steps + 1), steps + 1);
    const expectedConductance = new Float64Array(count * layerSize);
    for (let i = 0; i < count; i++)
      for (let k = 0; k < steps; k++)
        for (let e = 0; e < layerSize; e++) {
          const [here, next] = [(i * (steps + 1) + k) * layerSize + e, (i * (steps + 1) + k + 1) * layerSize + e];
          const j = i * layerSize + e;
          expectedConductance[j] = expectedConductance[j]! + along.gradients[here]! * (along.values[next]! - along.values[here]!);
        }
    expectAllClose(conductance.attribution, expectedConductance, TOLERANCE, 'conductance');
  });

  it("conductance at an affine layer is internal influence (riemann_left) times the layer's change (Captum's relation)", async () => {
    // conv1's output is affine in x: y_{k+1} − y_k = (y(x) − y(b))/n on trapezoid nodes k/n, and the left sum weights g_k by 1/n.
    const steps = 16;
    const conductance = await run({ method: 'layer-conductance', layer: 'conv1', steps, rule: 'riemann_trapezoid' });
    const influence = await run({ method: 'internal-influence', layer: 'conv1', steps, rule: 'riemann_left' });
    const y = referenceForward(graph, inputs, count).get('conv1')!;
    const y0 = referenceForward(graph, new Float64Array(inputs.length), count).get('conv1')!;
    expectAllClose(
      conductance.attribution,
      Array.from(influence.attribution, (v, i) => v * (y[i]! - y0[i]!)),
      TOLERANCE,
    );
  });

  it('layer conductance sums to f(x) − f(x₀) over the layer (its delta), as IG over the input does', async () => {
    // A left sum over the steps y_{k+1} − y_k: first order, so the gap shrinks as 1/steps (here ~0.3% of Δf).
    const conductance = await run({ method: 'layer-conductance', layer: 'relu1', steps: 400, rule: 'riemann_trapezoid' });
    const f = referenceForward(graph, inputs, count).get('fc')!;
    const f0 = referenceForward(graph, new Float64Array(inputs.length), count).get('fc')!;
    for (let i = 0; i < count; i++) {
      const change = f[i * CLASSES + target[i]!]! - f0[i * CLASSES + target[i]!]!;
      const total = conductance.attribution.slice(i * layerSize, (i + 1) * layerSize).reduce((a, b) => a + b, 0);
      expect(Math.abs(total - change), `input ${i}: Σ ${total} vs Δf ${change}`).toBeLessThan(1e-2 * Math.max(1, Math.abs(change)));
      expect(conductance.delta![i]).toBeCloseTo(total - change, 4);
    }
  });

  it("layer Grad-CAM: Σ_c mean(∂f/∂y_c) y_c in the layer's shape [1, h, w], ReLU only when asked", async () => {
    const { values, gradients } = layerGradients(graph, 'relu2', Float64Array.from(inputs), count, 1);
    const expected = Array.from({ length: count * 25 }, (_, flat) => {
      const [i, s] = [Math.floor(flat / 25), flat % 25];
      let sum = 0;
      for (let c = 0; c < 3; c++) {
        const mean = gradients.slice((i * 3 + c) * 25, (i * 3 + c + 1) * 25).reduce((a, b) => a + b, 0) / 25;
        sum += mean * values[(i * 3 + c) * 25 + s]!;
      }
      return sum;
    });
    const plain = await run({ method: 'layer-grad-cam', layer: 'relu2' });
    const relu = await run({ method: 'layer-grad-cam', layer: 'relu2', relu: true });
    expectAllClose(plain.attribution, expected, TOLERANCE, 'signed');
    expectAllClose(
      relu.attribution,
      expected.map((v) => Math.max(v, 0)),
      TOLERANCE,
      'relu',
    );
    expect(plain.shape).toEqual([count, 1, 5, 5]);
    expect(expected.some((v) => v < 0)).toBe(true); // the ReLU has something to remove
  });
});

describe('neuron methods', () => {
  const neuron = [2, 1, 3]; // relu2 [3, 5, 5]
  const flat = 2 * 25 + 1 * 5 + 3;
  const neuronSeed = Float64Array.from({ length: count * 75 }, (_, i) => Number(i % 75 === flat));

  it('neuron gradient is the row of the Jacobian ∂y_j/∂x (central differences)', async () => {
    const explanation = await run({ method: 'neuron-gradient', layer: 'relu2', neuron });
    const f = (x: Float64Array) => referenceForward(graph, x, count).get('relu2')!;
    expectAllClose(explanation.attribution, numericGradient(f, inputs, neuronSeed), { abs: 1e-4, rel: 1e-3 });
    expect(explanation.shape).toEqual([count, 2, 5, 5]);
    expect(explanation.attribution.some((v) => v !== 0)).toBe(true);
  });

  it('neuron integrated gradients is complete for its neuron: Σ attribution = y_j(x) − y_j(x₀)', async () => {
    const baseline = new Float32Array(inputs.length).fill(0.1);
    const explanation = await run({ method: 'neuron-integrated-gradients', layer: 'relu2', neuron, steps: 256, baseline });
    const y = referenceForward(graph, inputs, count).get('relu2')!;
    const y0 = referenceForward(graph, baseline, count).get('relu2')!;
    for (let i = 0; i < count; i++) {
      const total = explanation.attribution.slice(i * 50, (i + 1) * 50).reduce((a, b) => a + b, 0);
      const change = y[i * 75 + flat]! - y0[i * 75 + flat]!;
      expect(Math.abs(total - change), `input ${i}`).toBeLessThan(2e-3 * Math.max(1, Math.abs(change)));
    }
  });

  it('refuses a neuron that is not an index into the layer, and a method without its layer', async () => {
    for (const options of [
      { method: 'neuron-gradient', layer: 'relu2', neuron: [3, 0, 0] },
      { method: 'neuron-gradient', layer: 'relu2', neuron: [0, 0] },
      { method: 'layer-gradient-x-activation' },
      { method: 'layer-gradient-x-activation', layer: 'no such layer' },
      { method: 'layer-gradient-x-activation', layer: 'add', attributeToLayerInput: true }, // Add reads two tensors
    ] as const) {
      const error = await run(options as Omit<ExplainOptions, 'target'>).catch((e: unknown) => e);
      expect(isGradlensError(error) && error.code, JSON.stringify(options)).toBe('BAD_PARAMS');
    }
  });
});

describe('integer token ids: attribution at the embedding output (the text route)', () => {
  const g = tokenNet();
  const ids = Float32Array.of(0, 6, 2, 3, 3, 2, 5, 1, 4, 4);
  const padIds = new Float32Array(10); // token 0 as the pad token

  it('layer integrated gradients from the pad tokens’ embeddings equals its float64 definition, in [tokens, dim]', async () => {
    const explanation = await explainGraph(g, ids, count, {
      method: 'layer-integrated-gradients',
      layer: 'embedded',
      steps: 8,
      baseline: padIds,
      target: [0, 2],
    });
    const { alphas, weights } = quadrature('gausslegendre', 8);
    const y = referenceForward(g, ids, count).get('embedded')!;
    const y0 = referenceForward(g, padIds, count).get('embedded')!;
    const points = pathPoints(y, y0, 20, alphas);
    const values = referenceForward(g, repeatRows(ids, 5, 8), count * 8, new Map([['embedded', points]]));
    const seed = Float64Array.from({ length: count * 8 * 3 }, (_, i) => Number(i % 3 === [0, 2][Math.floor(i / 24)]));
    const gradients = referenceGradients(g, values, seed, count * 8).get('embedded')!;
    const expected = new Float64Array(count * 20);
    gradients.forEach((gk, flat) => {
      const p = Math.floor(flat / 20);
      const j = Math.floor(p / 8) * 20 + (flat % 20);
      expected[j] = expected[j]! + weights[p % 8]! * gk * (y[j]! - y0[j]!);
    });
    expectAllClose(explanation.attribution, expected, TOLERANCE);
    expect(explanation.shape).toEqual([count, 5, 4]);
    expect(sizeOf(inferShapes(g, 1).get('embedded')!)).toBe(20);
  });
});
