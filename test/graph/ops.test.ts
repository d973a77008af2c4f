import { describe, it } from 'vitest';
import { GraphBuilder } from '../../src/graph/builder.ts';
import type { Graph } from '../../src/graph/ir.ts';
import { Model } from '../../src/graph/model.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { referenceForward, referenceGradients } from '../reference/graph.ts';
import { randomTensor } from '../reference/random.ts';

// Order-1 values through ~12 f32 ops, sums of ≤ 50 terms: well inside 1e-4 relative.
const TOLERANCE = { abs: 5e-5, rel: 1e-4 };

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

  it('forward values and input gradient of a seed tensor', async () => {
    const model = await Model.create(await testContext(), graph);
    const plan = await model.plan({ batch, seed: 'tensor', capture: ['residual', 'gated'] });
    const input = randomTensor(batch * 2 * 81, 21, 2);
    const seed = randomTensor(batch * 20, 22);
    const values = referenceForward(graph, input, batch);
    const gradients = referenceGradients(graph, values, seed, batch);
    const result = await plan.run({ input, seed });
    expectAllClose(result.output, values.get('logits')!, TOLERANCE, 'output');
    expectAllClose(result.activations.residual!, values.get('residual')!, TOLERANCE, 'residual');
    expectAllClose(result.gradients.residual!, gradients.get('residual')!, TOLERANCE, 'residual gradient (two readers)');
    expectAllClose(result.gradients.gated!, gradients.get('gated')!, TOLERANCE, 'gated gradient');
    expectAllClose(result.inputGradient!, gradients.get('input')!, TOLERANCE, 'input gradient');
    model.destroy();
  });
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

  it('forward values and input gradient of a seed tensor', async () => {
    const model = await Model.create(await testContext(), graph);
    const plan = await model.plan({ batch, seed: 'tensor', capture: ['normed', 'gated'] });
    const input = randomTensor(batch * 3 * 7, 31, 2);
    const seed = randomTensor(batch * 3 * 7, 32);
    const values = referenceForward(graph, input, batch);
    const gradients = referenceGradients(graph, values, seed, batch);
    const result = await plan.run({ input, seed });
    expectAllClose(result.output, values.get('logits')!, TOLERANCE, 'output');
    expectAllClose(result.activations.gated!, values.get('gated')!, TOLERANCE, 'gated');
    expectAllClose(result.gradients.normed!, gradients.get('normed')!, TOLERANCE, 'normed gradient (four readers)');
    expectAllClose(result.inputGradient!, gradients.get('input')!, TOLERANCE, 'input gradient');
    model.destroy();
  });
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
  return b.build(b.node('Mul', [spread, b.node('Slice', [tiled, ...[[0], [3], [2]].map((v, k) => b.constant(Float32Array.from(v), [1], `t${k}`))])], {}, 'logits'));
}

describe('the moving ops through the planner, against the float64 interpreter', () => {
  it('forward values and input gradient of a seed tensor', async () => {
    const batch = 2;
    const graph = movingGraph();
    const model = await Model.create(await testContext(), graph);
    const plan = await model.plan({ batch, seed: 'tensor', capture: ['shuffled', 'tiled'] });
    const input = randomTensor(batch * 150, 41, 2);
    const values = referenceForward(graph, input, batch);
    const seed = randomTensor(values.get('logits')!.length, 42);
    const gradients = referenceGradients(graph, values, seed, batch);
    const result = await plan.run({ input, seed });
    expectAllClose(result.output, values.get('logits')!, TOLERANCE, 'output');
    expectAllClose(result.activations.tiled!, values.get('tiled')!, TOLERANCE, 'tiled');
    expectAllClose(result.gradients.shuffled!, gradients.get('shuffled')!, TOLERANCE, 'shuffled gradient');
    expectAllClose(result.inputGradient!, gradients.get('input')!, TOLERANCE, 'input gradient');
    model.destroy();
  });

  it('Split equals the Slices it stands for, with one output unused', async () => {
    const build = (split: boolean) => {
      const b = new GraphBuilder(split ? 'split' : 'slices', 8);
      const x = b.input([7, 3]);
      const parts = split
        ? b.nodeOutputs('Split', [x, b.constant(Float32Array.of(2, 1, 4), [3], 'extents')], { axis: 1 }, 3)
        : [[0, 2], [2, 3], [3, 7]].map(([s, e], k) => b.node('Slice', [x, ...[[s!], [e!], [1]].map((v, j) => b.constant(Float32Array.from(v), [1], `c${k}${j}`))]));
      return b.build(b.node('Concat', [b.node('Sigmoid', [parts[2]!]), b.node('Mul', [parts[0]!, parts[0]!])], { axis: 1 }, 'logits'));
    };
    const batch = 3;
    const input = randomTensor(batch * 21, 43, 2);
    const seed = randomTensor(batch * 18, 44);
    const runs = await Promise.all(
      [true, false].map(async (split) => {
        const model = await Model.create(await testContext(), build(split));
        const plan = await model.plan({ batch, seed: 'tensor' });
        const result = await plan.run({ input, seed });
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
  const mask = b.constant(Float32Array.from({ length: 7 }, (_, i) => Number(i % 3 !== 1)), [1, 7], 'mask');
  const masked = b.node('Where', [mask, scores, b.constant(Float32Array.of(-30), [], 'floor')], {}, 'masked');
  const weights = b.node('Softmax', [masked], { axis: -1 });
  const slope = b.constant(Float32Array.of(0.1, -0.2, 0.3), [3, 1], 'slope');
  const leaky = b.node('PRelu', [x, slope], {}, 'leaky');
  const low = b.node('Min', [leaky, b.node('Neg', [weights])]);
  return b.build(b.node('Max', [low, b.node('Mul', [x, b.constant(Float32Array.of(0.5), [], 'half')])], {}, 'logits'));
}

describe('Where, PRelu, Min and Max through the planner, against the float64 interpreter', () => {
  it('forward values and input gradient of a seed tensor', async () => {
    const batch = 2;
    const graph = maskedGraph();
    const model = await Model.create(await testContext(), graph);
    const plan = await model.plan({ batch, seed: 'tensor', capture: ['masked', 'leaky'] });
    const input = randomTensor(batch * 21, 51, 2);
    const seed = randomTensor(batch * 21, 52);
    const values = referenceForward(graph, input, batch);
    const gradients = referenceGradients(graph, values, seed, batch);
    const result = await plan.run({ input, seed });
    expectAllClose(result.output, values.get('logits')!, TOLERANCE, 'output');
    expectAllClose(result.activations.masked!, values.get('masked')!, TOLERANCE, 'masked');
    expectAllClose(result.gradients.leaky!, gradients.get('leaky')!, TOLERANCE, 'leaky gradient');
    expectAllClose(result.inputGradient!, gradients.get('input')!, TOLERANCE, 'input gradient');
    model.destroy();
  });
});
