import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/graph/builder.ts';
import { sizeOf, type Graph } from '../../src/graph/ir.ts';
import { Model } from '../../src/graph/model.ts';
import { inferShapes } from '../../src/graph/shapes.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { referenceForward, referenceGradients } from '../reference/graph.ts';
import { randomTensor } from '../reference/random.ts';

// Order-1 values through ~12 f32 ops, sums of ≤ 50 terms: well inside 1e-4 relative.
const TOLERANCE = { abs: 5e-5, rel: 1e-4 };

/**
 * Runs the graph through the planner with a seed tensor and compares with the float64 interpreter: the output, the
 * input gradient, and the named tensors' values and gradients. `input`: randomTensor's seed and scale.
 */
async function matchesReference(graph: Graph, batch: number, o: { input: [number, number?]; seed: number; values?: string[]; gradients?: string[] }) {
  const model = await Model.create(await testContext(), graph);
  try {
    const plan = await model.plan({ batch, objective: 'given', capture: [...new Set([...(o.values ?? []), ...(o.gradients ?? [])])] });
    const input = randomTensor(sizeOf(inferShapes(graph, batch).get(graph.input)!), ...o.input);
    const values = referenceForward(graph, input, batch);
    const seed = randomTensor(values.get(graph.output)!.length, o.seed);
    const gradients = referenceGradients(graph, values, seed, batch);
    const result = await plan.run({ input, outputGradient: seed });
    expectAllClose(result.output, values.get(graph.output)!, TOLERANCE, 'output');
    for (const name of o.values ?? []) expectAllClose(result.activations[name]!, values.get(name)!, TOLERANCE, name);
    for (const name of o.gradients ?? []) expectAllClose(result.gradients[name]!, gradients.get(name)!, TOLERANCE, `${name} gradient`);
    expectAllClose(result.inputGradient!, gradients.get(graph.input)!, TOLERANCE, 'input gradient');
  } finally {
    model.destroy();
  }
}

/**
 * Every op family in one graph, with tensors read by two nodes (gradients must add up), broadcasting between two
 * activations, and constants on either side.
 */
function everyOpGraph(): Graph {
  const b = new GraphBuilder('every-op', 5);
  const x = b.input([2, 9, 9]);
  const normed = b.batchNorm(x, 'bn'); // not after a Conv: stays a BatchNormalization op
  const pooled = b.maxPool(normed, { kernel: 3, stride: 2, pad: 1 }); // [2,5,5]
  const residual = b.node('Add', [pooled, b.node('Sigmoid', [pooled])], {}, 'residual');
  const gap = b.node('GlobalAveragePool', [residual], {}, 'gap'); // [2,1,1]
  const gated = b.node('Mul', [residual, gap], {}, 'gated'); // both sides need gradients, b broadcast
  const sizes = b.constant(Float32Array.of(1, 2, 10, 10), [4], 'sizes');
  const up = b.node('Resize', [gated, '', '', sizes], { mode: 'linear', coordinate_transformation_mode: 'half_pixel' }, 'up');
  const down = b.averagePool(up, { kernel: 2, stride: 2, countIncludePad: true });
  const joined = b.node('Concat', [down, residual], { axis: 1 }, 'joined'); // [4,5,5]
  const turned = b.node('Transpose', [joined], { perm: [0, 1, 3, 2] });
  const mean = b.node('ReduceMean', [turned], { axes: [3], keepdims: 0 }, 'mean'); // [4,5]
  const weighted = b.node('Mul', [mean, b.constant(Float32Array.of(0.5, -1, 2, 1.5, -0.25), [5], 'w')]);
  const shifted = b.node('Sub', [weighted, b.constant(Float32Array.of(0.1, 0.2, 0.3, 0.4), [4, 1], 's')]);
  const flat = b.node('Flatten', [shifted], { axis: 1 });
  const scaled = b.node('Div', [flat, b.constant(Float32Array.of(1.5), [1], 'd')]);
  return b.build(b.node('Tanh', [scaled], {}, 'logits'));
}

describe('every op family through the planner, against the float64 interpreter', () => {
  const batch = 2;
  const graph = everyOpGraph();

  it('forward values and input gradient of a seed tensor', () =>
    matchesReference(graph, batch, { input: [21, 2], seed: 22, values: ['residual'], gradients: ['residual', 'gated'] }));
});

/**
 * The unary elementwise family and its constants through the planner: LayerNorm as exported (Pow, Sqrt, Reciprocal),
 * MobileNetV3's HardSwish and HardSigmoid gate, and the rest chained so each one's gradient flows through the others.
 */
function elementwiseGraph(): Graph {
  const b = new GraphBuilder('elementwise', 6);
  const x = b.input([3, 7]);
  const centred = b.node('Sub', [x, b.node('ReduceMean', [x], { axes: [2], keepdims: 1 })]);
  const variance = b.node('ReduceMean', [b.node('Pow', [centred, b.constant(Float32Array.of(2), [], 'two')])], { axes: [2], keepdims: 1 });
  const inverse = b.node('Reciprocal', [b.node('Sqrt', [b.node('Add', [variance, b.constant(Float32Array.of(1e-5), [], 'eps')])])]);
  const normed = b.node('Mul', [centred, inverse], {}, 'normed');
  const gate = b.node('HardSigmoid', [b.node('HardSwish', [normed])], { alpha: 0.25, beta: 0.4 });
  const gated = b.node('Mul', [normed, gate], {}, 'gated');
  const curved = b.node('Mish', [b.node('Selu', [b.node('Elu', [gated], { alpha: 0.7 })])]);
  const soft = b.node('Softplus', [b.node('Neg', [curved])]);
  const logged = b.node('Log', [b.node('Add', [b.node('Exp', [b.node('Abs', [soft])]), b.node('Erf', [gated])])]);
  return b.build(b.node('Mul', [logged, b.node('Pow', [normed, b.constant(Float32Array.of(3), [1], 'three')])], {}, 'logits'));
}

describe('the elementwise family through the planner, against the float64 interpreter', () => {
  const batch = 3;
  const graph = elementwiseGraph();

  it('forward values and input gradient of a seed tensor', () =>
    matchesReference(graph, batch, { input: [31, 2], seed: 32, values: ['gated'], gradients: ['normed'] }));
});

/** Channel split and shuffle (ShuffleNetV2), a class-token gather, reflect and edge padding, tiling and expanding. */
function movingGraph(): Graph {
  const b = new GraphBuilder('moving', 7);
  const x = b.input([6, 5, 5]);
  const padded = b.node('Pad', [x], { pads: [0, 0, 1, 2, 0, 0, 2, 1], mode: 'reflect', value: 0 }, 'padded'); // [6,8,8]
  const low = b.node('Slice', [padded, ...[[0], [3], [1], [1]].map((v, k) => b.constant(Float32Array.from(v), [1], `s${k}`))]); // [3,8,8]
  const high = b.node('Slice', [padded, ...[[-1], [2], [1], [-1]].map((v, k) => b.constant(Float32Array.from(v), [1], `h${k}`))]); // [3,8,8]
  const shuffled = b.node('Gather', [b.node('Add', [low, high]), b.constant(Float32Array.of(2, 0, 1, 1), [4], 'order')], { axis: 1 }, 'shuffled');
  const edged = b.node('Pad', [shuffled], { pads: [0, 0, 0, 1, 0, 0, 0, 2], mode: 'edge', value: 0 }); // [4,8,11]
  const tiled = b.node('Tile', [edged, b.constant(Float32Array.of(1, 2, 1, 1), [4], 'repeats')], {}, 'tiled'); // [8,8,11]
  const pooled = b.node('ReduceMean', [tiled], { axes: [2], keepdims: 1 }); // [8,1,11]
  const spread = b.node('Expand', [pooled, b.constant(Float32Array.of(1, 8, 3, 11), [4], 'target')]);
  return b.build(
    b.node('Mul', [spread, b.node('Slice', [tiled, ...[[0], [3], [2]].map((v, k) => b.constant(Float32Array.from(v), [1], `t${k}`))])], {}, 'logits'),
  );
}

describe('the moving ops through the planner, against the float64 interpreter', () => {
  it('forward values and input gradient of a seed tensor', () =>
    matchesReference(movingGraph(), 2, { input: [41, 2], seed: 42, values: ['tiled'], gradients: ['shuffled'] }));

  it('Split equals the Slices it stands for, with one output unused', async () => {
    const build = (split: boolean) => {
      const b = new GraphBuilder(split ? 'split' : 'slices', 8);
      const x = b.input([7, 3]);
      const parts = split
        ? b.nodeOutputs('Split', [x, b.constant(Float32Array.of(2, 1, 4), [3], 'extents')], { axis: 1 }, 3)
        : [
            [0, 2],
            [2, 3],
            [3, 7],
          ].map(([s, e], k) => b.node('Slice', [x, ...[[s!], [e!], [1]].map((v, j) => b.constant(Float32Array.from(v), [1], `c${k}${j}`))]));
      return b.build(b.node('Concat', [b.node('Sigmoid', [parts[2]!]), b.node('Mul', [parts[0]!, parts[0]!])], { axis: 1 }, 'logits'));
    };
    const batch = 3;
    const input = randomTensor(batch * 21, 43, 2);
    const seed = randomTensor(batch * 18, 44);
    const runs = await Promise.all(
      [true, false].map(async (split) => {
        const model = await Model.create(await testContext(), build(split));
        const plan = await model.plan({ batch, objective: 'given' });
        const result = await plan.run({ input, outputGradient: seed });
        model.destroy();
        return result;
      }),
    );
    expectAllClose(runs[0]!.output, runs[1]!.output, { abs: 0, rel: 0 }, 'output');
    expectAllClose(runs[0]!.inputGradient!, runs[1]!.inputGradient!, { abs: 0, rel: 0 }, 'input gradient');
  });
});

/** A masked softmax as attention exports it (Where with a constant mask), PRelu's per-channel slope, Min and Max. */
function maskedGraph(): Graph {
  const b = new GraphBuilder('masked', 9);
  const x = b.input([3, 7]);
  const scores = b.node('Mul', [x, x]);
  const mask = b.constant(
    Float32Array.from({ length: 7 }, (_, i) => Number(i % 3 !== 1)),
    [1, 7],
    'mask',
  );
  const masked = b.node('Where', [mask, scores, b.constant(Float32Array.of(-30), [], 'floor')], {}, 'masked');
  const weights = b.node('Softmax', [masked], { axis: -1 });
  const slope = b.constant(Float32Array.of(0.1, -0.2, 0.3), [3, 1], 'slope');
  const leaky = b.node('PRelu', [x, slope], {}, 'leaky');
  const low = b.node('Min', [leaky, b.node('Neg', [weights])]);
  return b.build(b.node('Max', [low, b.node('Mul', [x, b.constant(Float32Array.of(0.5), [], 'half')])], {}, 'logits'));
}

describe('Where, PRelu, Min and Max through the planner, against the float64 interpreter', () => {
  it('forward values and input gradient of a seed tensor', () =>
    matchesReference(maskedGraph(), 2, { input: [51, 2], seed: 52, values: ['masked'], gradients: ['leaky'] }));
});

describe('ConvTranspose and 1-D Conv and pooling through the planner, against the float64 interpreter', () => {
  // [input channels, spatial, attributes, weight shape (C_in, C_out/group, kh, kw)]
  const CASES: [string, number[], Record<string, number[] | number>, number[]][] = [
    ['stride 2, pads, bias', [4, 5, 6], { strides: [2, 2], pads: [1, 0, 0, 1] }, [4, 3, 3, 3]],
    ['groups 2, output_padding, dilation', [4, 3, 5], { group: 2, strides: [2, 3], output_padding: [1, 2], dilations: [1, 2] }, [4, 2, 2, 3]],
    ['depthwise-like groups, stride 1', [3, 4, 4], { group: 3, pads: [1, 1, 1, 1] }, [3, 1, 3, 3]],
    ['1-D, stride 2, output_padding', [3, 9], { strides: [2], output_padding: [1], pads: [1, 0] }, [3, 2, 4]],
  ];
  for (const [label, shape, attributes, wShape] of CASES) {
    it(`ConvTranspose ${label}: forward values and input gradient`, async () => {
      const b = new GraphBuilder('conv-transpose', 10);
      const x = b.input(shape);
      const w = b.constant(
        randomTensor(
          wShape.reduce((p, q) => p * q, 1),
          60,
        ),
        wShape,
        'w',
      );
      const outChannels = wShape[1]! * ((attributes.group as number | undefined) ?? 1);
      const bias = b.constant(randomTensor(outChannels, 61), [outChannels], 'bias');
      const up = b.node('ConvTranspose', [x, w, bias], attributes, 'up');
      await matchesReference(b.build(b.node('Tanh', [up], {}, 'logits')), 2, { input: [62], seed: 63 });
    });
  }

  it('a 1-D Conv, MaxPool, AveragePool and GlobalAveragePool (audio, text): forward values and input gradient', async () => {
    const b = new GraphBuilder('one-d', 11);
    const x = b.input([3, 17]);
    const w = b.constant(randomTensor(4 * 3 * 5, 70), [4, 3, 5], 'w');
    const conv = b.node('Conv', [x, w], { kernel_shape: [5], strides: [2], pads: [2, 1], dilations: [1] }, 'conv'); // [4, 8]
    const pooled = b.node('MaxPool', [conv], { kernel_shape: [3], strides: [1], pads: [1, 1] });
    const averaged = b.node('AveragePool', [pooled], { kernel_shape: [2], strides: [2], count_include_pad: 0 }); // [4, 4]
    await matchesReference(b.build(b.node('Mul', [averaged, b.node('GlobalAveragePool', [conv])], {}, 'logits')), 2, {
      input: [71],
      seed: 72,
      values: ['conv'],
    });
  });
});

describe('InstanceNormalization and GroupNormalization through the planner, against the float64 interpreter', () => {
  for (const [op, attributes, gammaLength] of [
    ['InstanceNormalization', { epsilon: 1e-3 }, 6],
    ['GroupNormalization', { num_groups: 3 }, 6], // opset 21: γ per channel
    ['GroupNormalization', { num_groups: 2, epsilon: 1e-4 }, 2], // opset 18: γ per group
  ] as const) {
    it(`${op} ${JSON.stringify(attributes)}, γ of ${gammaLength}: forward values and input gradient`, async () => {
      const b = new GraphBuilder('grouped', 12);
      const x = b.input([6, 5, 3]);
      const gamma = b.constant(randomTensor(gammaLength, 80), [gammaLength], 'gamma');
      const beta = b.constant(randomTensor(gammaLength, 81), [gammaLength], 'beta');
      const normed = b.node(op, [x, gamma, beta], attributes, 'normed');
      await matchesReference(b.build(b.node('Mul', [normed, b.node('Sigmoid', [x])], {}, 'logits')), 2, { input: [82, 2], seed: 83 }); // x read twice
    });
  }
});

describe('token embeddings: ids from the input look rows up in a constant table', () => {
  it('forward values, the gradient at the embedding output, and a zero gradient for the ids', async () => {
    const b = new GraphBuilder('embedding', 13);
    const ids = b.input([5]);
    const table = b.constant(randomTensor(7 * 4, 90), [7, 4], 'table');
    const embedded = b.node('Gather', [table, ids], { axis: 0 }, 'embedded'); // [5, 4]
    const graph = b.build(b.node('Mul', [b.node('Tanh', [embedded]), embedded], {}, 'logits'));
    const batch = 2;
    const model = await Model.create(await testContext(), graph);
    try {
      const plan = await model.plan({ batch, objective: 'given', capture: ['embedded'] });
      const input = Float32Array.of(0, 6, -1, 3, 3, 2, 5, 1, -7, 4); // negative ids count from the end
      const values = referenceForward(graph, input, batch);
      const seed = randomTensor(batch * 20, 91);
      const gradients = referenceGradients(graph, values, seed, batch);
      const result = await plan.run({ input, outputGradient: seed });
      expectAllClose(result.output, values.get('logits')!, TOLERANCE, 'output');
      expectAllClose(result.gradients.embedded!, gradients.get('embedded')!, TOLERANCE, 'embedding gradient');
      expect([...result.inputGradient!]).toEqual(new Array(10).fill(0));
    } finally {
      model.destroy();
    }
  });
});
