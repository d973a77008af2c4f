// LRP as a backward rule set (src/graph/lrp.ts): the GPU relevance against the float64 reference written from each
// rule's formula (test/reference/lrp.ts), and LRP's defining properties.
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/graph/builder.ts';
import type { Graph } from '../../src/graph/ir.ts';
import { sizeOf } from '../../src/graph/ir.ts';
import { foldBatchNorm } from '../../src/graph/fold.ts';
import { Model } from '../../src/graph/model.ts';
import { resnet18 } from '../../src/graph/models.ts';
import type { LrpLayerRule, LrpRules } from '../../src/graph/op.ts';
import { isGradlensError } from '../../src/gpu/errors.ts';
import { explainGraph } from '../helpers/explain.ts';
import { relativeL2 } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { toRun } from '../../src/node/explain-options.ts';
import { referenceRelevance } from '../reference/lrp.ts';
import { randomTensor } from '../reference/random.ts';

/** conv–relu–maxpool, conv–relu–avgpool with a residual Add, two dense layers: every op family the rules cover. */
function cnn(bias: boolean): Graph {
  const b = new GraphBuilder('lrp-cnn', 3);
  const input = b.input([3, 8, 8]);
  let x = b.maxPool(b.relu(b.conv(input, { channels: 4, kernel: 3, bias }, 'conv1')), { kernel: 2 });
  const branch = b.relu(b.conv(x, { channels: 4, kernel: 3, bias }, 'conv2'));
  x = b.averagePool(b.node('Add', [x, branch], {}, 'residual'), { kernel: 2 });
  x = b.relu(b.gemm(b.node('Flatten', [x], { axis: 1 }, 'flat'), 12, { bias }, 'fc1'));
  return b.build(b.gemm(x, 5, { bias }, 'fc2'));
}

const LAYERS = ['conv1', 'conv2', 'fc1', 'fc2'];
const BATCH = 3;

function lrpRules(layers: Partial<Record<string, LrpLayerRule>>, more: Partial<LrpRules> = {}): LrpRules {
  return {
    name: 'lrp',
    layers: layers as Record<string, LrpLayerRule>,
    epsilon: 1e-6,
    gamma: 0.25,
    stabilizer: 1e-6,
    zeroBias: false,
    low: [0],
    high: [1],
    ...more,
  };
}
const everywhere = (rule: LrpLayerRule) => Object.fromEntries(LAYERS.map((name) => [name, rule]));

interface Relevance {
  /** Relevance of the input and of each captured tensor, batch × shape. */
  tensors: Record<string, Float32Array>;
  target: Int32Array;
  input: Float32Array;
}

async function relevanceOf(graph: Graph, rules: LrpRules, input: Float32Array, capture: string[] = []): Promise<Relevance> {
  const model = await Model.create(await testContext(), graph);
  try {
    const plan = await model.plan({ batch: BATCH, rules, capture, fuse: capture.length === 0 });
    const result = await plan.run({ input });
    plan.destroy();
    return { tensors: { [graph.input]: result.inputGradient!, ...result.gradients }, target: result.target!, input };
  } finally {
    model.destroy();
  }
}

/** One-hot at each sample's target: relevance 1 enters at the target's logit. */
function seedOf(target: Int32Array, classes: number): Float64Array {
  const seed = new Float64Array(target.length * classes);
  target.forEach((t, n) => (seed[n * classes + t] = 1));
  return seed;
}

const sums = (values: ArrayLike<number>, batch: number) =>
  Array.from({ length: batch }, (_, n) => {
    const size = values.length / batch;
    let sum = 0;
    for (let i = 0; i < size; i++) sum += values[n * size + i]!;
    return sum;
  });

const image = () => new Float32Array(randomTensor(BATCH * 3 * 8 * 8, 21).map((v) => (v + 1) / 2)); // in [0, 1): the box's bounds

describe('lrp against the float64 reference', () => {
  const cases: [string, LrpRules][] = [
    ...(['epsilon', 'gamma', 'zplus', 'alpha1beta0', 'flat'] as const).map((rule): [string, LrpRules] => [
      rule,
      lrpRules(everywhere(rule), { epsilon: 0.01 }),
    ]),
    ['box first, gamma, epsilon (EpsilonGammaBox)', lrpRules({ conv1: 'box', conv2: 'gamma' }, { low: [-0.1, 0, 0.05], high: [1, 1.1, 0.9] })],
    ['zero biases', lrpRules({ conv1: 'alpha1beta0', conv2: 'gamma' }, { zeroBias: true })],
  ];
  for (const [name, rules] of cases) {
    it(`${name}: the input relevance within 1e-5 relative L2`, async () => {
      const graph = cnn(true);
      const lrp = await relevanceOf(graph, rules, image());
      const expected = referenceRelevance(graph, lrp.input, BATCH, seedOf(lrp.target, 5), rules).get(graph.input)!;
      // f32 sums over ≤ 108 terms per layer, four layers: ~1e-6; 1e-5 leaves room for the quotients' spread.
      expect(relativeL2(lrp.tensors[graph.input]!, expected)).toBeLessThan(1e-5);
    });
  }
});

describe('lrp properties', () => {
  const captured = ['conv1', 'residual', 'fc1'];

  for (const [name, layers] of Object.entries({
    'LRP-0': everywhere('epsilon'),
    'z⁺': everywhere('zplus'),
    γ: everywhere('gamma'),
    'flat first, z⁺, ε (EpsilonPlusFlat)': { conv1: 'flat', conv2: 'zplus' },
    'box first, γ, ε (EpsilonGammaBox)': { conv1: 'box', conv2: 'gamma' },
  } as Record<string, Record<string, LrpLayerRule>>)) {
    it(`${name} conserves relevance at every layer of a bias-free net (ε → 0)`, async () => {
      const lrp = await relevanceOf(cnn(false), lrpRules(layers, { epsilon: 0, stabilizer: 0, low: [0], high: [1] }), image(), captured);
      for (const [tensor, values] of Object.entries(lrp.tensors)) {
        // Each sample's relevance sums to the output's, 1: f32 sums of a few hundred terms.
        sums(values, BATCH).forEach((sum, n) => expect(Math.abs(sum - 1), `${tensor} sample ${n}: Σ R = ${sum}`).toBeLessThan(2e-5));
      }
    });
  }

  it('ε with biases: a layer keeps Σ R_in = Σ_k R_k (z_k − b_k) / stab(z_k), the rest absorbed by biases and ε', async () => {
    const graph = cnn(true);
    const rules = lrpRules(everywhere('epsilon'), { epsilon: 0.01 });
    const lrp = await relevanceOf(graph, rules, image(), ['fc1', 'flat']);
    const reference = referenceRelevance(graph, lrp.input, BATCH, seedOf(lrp.target, 5), rules);
    // fc1 = W·a + b: of R_k its input gets (z_k − b_k)/(z_k + ε sign z_k); b_k and ε take the rest.
    const bias = graph.constants.get(graph.nodes.find((n) => n.name === 'fc1')!.inputs[2]!)!.data;
    const { referenceForward } = await import('../reference/graph.ts');
    const z = referenceForward(graph, lrp.input, BATCH).get('fc1')!;
    const outputs = lrp.tensors['fc1']!;
    const expected = sums(
      Array.from(z, (v, i) => ((v - bias[i % 12]!) * outputs[i]!) / (v + 0.01 * (v < 0 ? -1 : 1))),
      BATCH,
    );
    expected.forEach((sum, n) => expect(Math.abs(sum - sums(outputs, BATCH)[n]!)).toBeGreaterThan(1e-3)); // something is absorbed
    sums(lrp.tensors['flat']!, BATCH).forEach((sum, n) => expect(sum).toBeCloseTo(expected[n]!, 5));
    expect(relativeL2(lrp.tensors['flat']!, reference.get('flat')!)).toBeLessThan(1e-5);
  });

  it('LRP-0 equals gradient × input on a bias-free ReLU net (relevance 1 at the target: divided by the logit)', async () => {
    const graph = cnn(false);
    const input = image();
    const lrp = await relevanceOf(graph, lrpRules(everywhere('epsilon'), { epsilon: 0, stabilizer: 0 }), input);
    const model = await Model.create(await testContext(), graph);
    const plan = await model.plan({ batch: BATCH });
    const gradient = await plan.run({ input });
    plan.destroy();
    model.destroy();
    const size = input.length / BATCH;
    const expected = Float64Array.from(input, (x, i) => (x * gradient.inputGradient![i]!) / gradient.score![Math.floor(i / size)]!);
    expect(relativeL2(lrp.tensors[graph.input]!, expected)).toBeLessThan(1e-5);
  });

  it('z⁺ relevance is non-negative at every layer for non-negative inputs', async () => {
    const lrp = await relevanceOf(cnn(true), lrpRules(everywhere('zplus')), image(), captured);
    for (const [tensor, values] of Object.entries(lrp.tensors)) {
      expect(Math.min(...values), tensor).toBeGreaterThanOrEqual(0);
      expect(Math.max(...values), tensor).toBeGreaterThan(0);
    }
  });

  it('γ → 0 equals LRP-0', async () => {
    const graph = cnn(true);
    const input = image();
    const gamma = await relevanceOf(graph, lrpRules(everywhere('gamma'), { gamma: 0 }), input);
    const zero = await relevanceOf(graph, lrpRules(everywhere('epsilon'), { epsilon: 1e-6 }), input);
    expect(relativeL2(gamma.tensors[graph.input]!, zero.tensors[graph.input]!)).toBeLessThan(1e-6);
    const bigger = await relevanceOf(graph, lrpRules(everywhere('gamma'), { gamma: 0.5 }), input);
    expect(relativeL2(bigger.tensors[graph.input]!, zero.tensors[graph.input]!)).toBeGreaterThan(1e-3); // γ does change it
  });

  it('refuses, at plan time, an op no rule covers, naming it', async () => {
    const b = new GraphBuilder('softmax-head', 1);
    const graph = b.build(b.node('Softmax', [b.gemm(b.input([4]), 3)], { axis: -1 }, 'probabilities'));
    const model = await Model.create(await testContext(), graph);
    const error = await model.plan({ batch: 1, rules: lrpRules({}) }).catch((e: unknown) => e);
    model.destroy();
    expect(isGradlensError(error, 'UNSUPPORTED_OP')).toBe(true);
    expect(String(error)).toMatch(/Softmax "probabilities"/);
  });

  it('sizes its scratch by liveness: a plan of many layers needs no more slot memory than a few layers’ worth', async () => {
    const graph = cnn(true);
    const model = await Model.create(await testContext(), graph);
    const plain = await model.plan({ batch: 1 });
    const lrp = await model.plan({ batch: 1, rules: lrpRules(everywhere('zplus')) });
    // z⁺ needs 2 terms × (input, weight, z, c) at one layer at a time, not at every layer at once.
    expect(lrp.slotBytes).toBeLessThan(plain.slotBytes + 8 * sizeOf([12, 64]) * 4 + 4 * 3 * 8 * 8 * 4 * 4);
    plain.destroy();
    lrp.destroy();
    model.destroy();
  });
});

describe('the lrp method', () => {
  const mlp = () => {
    const b = new GraphBuilder('lrp-mlp', 5);
    const x = b.relu(b.gemm(b.input([6]), 8, {}, 'dense1'));
    return b.build(b.gemm(x, 4, {}, 'dense2'));
  };

  it('assigns rules as Zennit composites do: the first layer by its own map, then by layer type', async () => {
    const input = image();
    const layersOf = async (graph: Graph, composite: string, inputs = input, count = BATCH) =>
      (await explainGraph(graph, inputs, count, { method: 'lrp', composite })).options.layers;
    expect(await layersOf(cnn(true), 'epsilon-plus-flat')).toEqual({ conv1: 'flat', conv2: 'alpha1beta0', fc1: 'epsilon', fc2: 'epsilon' });
    expect(await layersOf(cnn(true), 'epsilon-gamma-box')).toEqual({ conv1: 'box', conv2: 'gamma', fc1: 'epsilon', fc2: 'epsilon' });
    expect(await layersOf(cnn(true), 'gamma')).toEqual(everywhere('gamma'));
    // EpsilonPlusFlat's first map takes dense layers too; EpsilonGammaBox's only convolutions.
    const row = new Float32Array(randomTensor(6, 22));
    expect(await layersOf(mlp(), 'epsilon-plus-flat', row, 1)).toEqual({ dense1: 'flat', dense2: 'epsilon' });
    expect(await layersOf(mlp(), 'epsilon-gamma-box', row, 1)).toEqual({ dense1: 'epsilon', dense2: 'epsilon' });
  });

  for (const composite of ['epsilon-plus-flat', 'epsilon-gamma-box', 'lrp-0']) {
    it(`${composite}: f(x)-scaled relevance as the reference gives it, in chunks as at once, delta = f(x) − Σ R`, async () => {
      const graph = cnn(true);
      const input = image();
      const whole = await explainGraph(graph, input, BATCH, { method: 'lrp', composite, low: -0.1, high: 1.1 });
      const chunked = await explainGraph(graph, input, BATCH, { method: 'lrp', composite, low: -0.1, high: 1.1, chunkSize: 2 });
      expect([...chunked.attribution]).toEqual([...whole.attribution]);
      const used = whole.options as { layers: Record<string, LrpLayerRule>; epsilon: number };
      const rules = lrpRules(used.layers, { epsilon: used.epsilon, low: [-0.1], high: [1.1] });
      const seed = seedOf(whole.target, 5).map((v, i) => v * whole.score[Math.floor(i / 5)]!);
      const expected = referenceRelevance(graph, input, BATCH, seed, rules).get(graph.input)!;
      expect(relativeL2(whole.attribution, expected)).toBeLessThan(1e-5);
      const totals = sums(whole.attribution, BATCH);
      whole.delta!.forEach((d, n) => expect(d).toBeCloseTo(whole.score[n]! - totals[n]!, 4));
    });
  }

  it('takes its options from CLI flags generated from its description (a negative value as --low=-2.1)', () => {
    const flags = ['--method', 'lrp', '--composite', 'epsilon-gamma-box', '--low=-2.1', '--high', '2.6', '--gamma', '0.5', '--zero-bias', 'true'];
    expect(toRun(['m.onnx', 'x.png', ...flags], {}).method).toEqual({
      method: 'lrp',
      composite: 'epsilon-gamma-box',
      low: -2.1,
      high: 2.6,
      gamma: 0.5,
      zeroBias: true,
    });
    expect(() => toRun(['m.onnx', 'x.png', '--method', 'lrp', '--composite', 'alpha2beta1'], {})).toThrow(/--composite/);
  });

  it('refuses a score other than the logit', async () => {
    const error = await explainGraph(cnn(true), image(), BATCH, { method: 'lrp', score: 'probability' }).catch((e: unknown) => e);
    expect(isGradlensError(error, 'BAD_PARAMS')).toBe(true);
  });
});

describe('lrp on the zoo ResNet-18 (folded BatchNorm, residual Add, max and global average pooling)', () => {
  it('each composite agrees with the float64 reference on the folded graph, and the folded net is what LRP sees', async () => {
    const graph = resnet18({ inputSize: 32, width: 4, classes: 7 });
    const folded = foldBatchNorm(graph);
    expect(folded.nodes.some((node) => node.op === 'BatchNormalization')).toBe(false);
    const input = new Float32Array(randomTensor(2 * 3 * 32 * 32, 23, 2));
    // γ on convolutions whose outputs reach a residual Add unrectified meets denominators near 0: a 1e-7 relative
    // change of the input moves the float64 reference by 2.4e-5 (measured), so f32 rounding at every layer costs ~5e-4.
    const tolerance: Record<string, number> = { 'epsilon-plus-flat': 1e-4, 'epsilon-gamma-box': 2e-3, 'epsilon-plus': 1e-4 };
    for (const composite of Object.keys(tolerance)) {
      const result = await explainGraph(graph, input, 2, { method: 'lrp', composite, low: -2, high: 2 });
      const used = result.options as { layers: Record<string, LrpLayerRule>; epsilon: number };
      const rules = lrpRules(used.layers, { epsilon: used.epsilon, stabilizer: 1e-9, low: [-2], high: [2] });
      const seed = seedOf(result.target, 7).map((v, i) => v * result.score[Math.floor(i / 7)]!);
      const expected = referenceRelevance(folded, input, 2, seed, rules).get(folded.input)!;
      expect(relativeL2(result.attribution, expected), composite).toBeLessThan(tolerance[composite]!);
    }
  });

  it('a BatchNorm that cannot fold and a ReduceMean share relevance in proportion (the ε rule on their maps, as Captum)', async () => {
    const b = new GraphBuilder('unfolded', 4);
    const normed = b.batchNorm(b.relu(b.conv(b.input([2, 6, 6]), { channels: 3, kernel: 3 }, 'conv')), 'norm');
    const x = b.node('ReduceMean', [normed], { axes: [3], keepdims: 1 }, 'row-means');
    const graph = b.build(b.gemm(b.node('Flatten', [x], { axis: 1 }), 4, {}, 'fc'));
    const input = new Float32Array(randomTensor(2 * 2 * 6 * 6, 24));
    const result = await explainGraph(graph, input, 2, { method: 'lrp', composite: 'epsilon', epsilon: 0.01 });
    const rules = lrpRules(everywhere('epsilon'), { epsilon: 0.01, stabilizer: 1e-9 });
    const seed = seedOf(result.target, 4).map((v, i) => v * result.score[Math.floor(i / 4)]!);
    expect(relativeL2(result.attribution, referenceRelevance(graph, input, 2, seed, rules).get(graph.input)!)).toBeLessThan(1e-5);
  });
});
