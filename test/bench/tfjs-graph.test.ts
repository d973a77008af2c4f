import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { TfjsGraph, type TfjsGraphOptions } from '../../bench/tfjs-graph.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import { sizeOf, type Graph } from '../../src/graph/ir.ts';
import { resnet18, smallCnn } from '../../src/graph/models.ts';
import { inferShapes } from '../../src/graph/shapes.ts';
import { expectAllClose } from '../helpers/close.ts';
import { randomTensor } from '../reference/random.ts';
import { referenceForward, referenceGradients } from '../reference/graph.ts';

// TF.js's CPU backend is float32 and deterministic; the reference is float64. The bound is relative to the largest
// expected magnitude: float32 rounding through twenty layers gave at most 6e-7 of it; 1e-5 leaves room for other
// summation orders, while a wrong layout or padding moves values by a sizeable fraction of it.
const tolerance = (expected: ArrayLike<number>) => ({ abs: 1e-5 * Math.max(...Array.from(expected, Math.abs)), rel: 1e-5 });

/** A one-hot seed per input (target = 3·i mod classes), so each input's gradient is of its own logit. */
function seedFor(graph: Graph, batch: number): Float32Array {
  const classes = sizeOf(inferShapes(graph, 1).get(graph.output)!);
  const seed = new Float32Array(batch * classes);
  for (let i = 0; i < batch; i++) seed[i * classes + ((3 * i) % classes)] = 1;
  return seed;
}

/** Logits and the gradient of Σ seed ⊙ logits at the input, from TF.js and from the float64 interpreter. */
function compare(graph: Graph, batch: number, options: TfjsGraphOptions = {}) {
  const input = randomTensor(batch * sizeOf(graph.inputShape), 17, 1);
  const seed = seedFor(graph, batch);
  const model = TfjsGraph.create(graph, options);
  const [logits, gradient] = tf.tidy(() => {
    const x = tf.tensor(input, [batch, ...graph.inputShape]);
    const seedTensor = tf.tensor(seed, [batch, seed.length / batch]);
    return [
      model.forward(x).dataSync(),
      tf
        .grad((z: tf.Tensor) => tf.sum(tf.mul(model.forward(z), seedTensor)))(x)
        .dataSync(),
    ];
  });
  model.dispose();
  const values = referenceForward(graph, input, batch);
  const expected = { logits: values.get(graph.output)!, gradient: referenceGradients(graph, values, seed, batch).get(graph.input)! };
  return { logits, gradient, expected };
}

/** Ops the bench models do not reach, in the layouts that need care: channels-first constants, axes, ceil mode. */
function mappedOpsGraph(): Graph {
  const b = new GraphBuilder('mapped-ops', 23);
  const x = b.input([4, 9, 9]);
  const normed = b.batchNorm(x, 'bn'); // first op: not folded, runs as tf.batchNorm
  const depthwise = b.conv(normed, { channels: 8, kernel: 3, groups: 4 }, 'depthwise');
  const grouped = b.conv(depthwise, { channels: 6, kernel: [3, 1], stride: 2, groups: 2, pad: 1 }, 'grouped'); // [6,5,5]
  const shifted = b.node('Add', [grouped, b.constant(Float32Array.of(0.1, -0.2, 0.3, 0, 0.5, -0.4), [6, 1, 1], 'shift')]);
  const gelu = b.node('Gelu', [shifted]);
  const ceilPool = b.node('MaxPool', [gelu], { kernel_shape: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0], ceil_mode: 1 }); // [6,3,3]
  const sizes = b.constant(Float32Array.of(1, 6, 6, 6), [4], 'sizes');
  const up = b.node('Resize', [ceilPool, '', '', sizes], { mode: 'linear', coordinate_transformation_mode: 'half_pixel' }); // [6,6,6]
  const averaged = b.averagePool(up, { kernel: 3, stride: 2, pad: 1, countIncludePad: true }); // [6,3,3]
  const excluded = b.averagePool(up, { kernel: 3, stride: 2, pad: 1 });
  const gated = b.node('Mul', [averaged, b.node('Sigmoid', [b.node('GlobalAveragePool', [excluded])])]);
  const joined = b.node('Concat', [gated, b.node('LeakyRelu', [excluded], { alpha: 0.1 })], { axis: 1 }); // [12,3,3]
  const turned = b.node('Transpose', [joined], { perm: [0, 2, 3, 1] }); // [3,3,12]
  const normal = b.layerNorm(turned);
  const probabilities = b.node('Softmax', [normal], { axis: 1 });
  const mean = b.node('ReduceMean', [probabilities], { axes: [2], keepdims: 0 }); // [3,12]
  const clipped = b.node('Clip', [b.node('Flatten', [mean], { axis: 1 })], { min: 0.05, max: 0.4 });
  return b.build(b.gemm(b.node('Tanh', [clipped]), 5, {}, 'logits'));
}

describe('a gradlens graph run by TensorFlow.js (CPU backend) against the float64 interpreter', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('smallCnn: the same logits and input gradients', () => {
    const { logits, gradient, expected } = compare(smallCnn(), 3);
    expectAllClose(logits, expected.logits, tolerance(expected.logits), 'logits');
    expectAllClose(gradient, expected.gradient, tolerance(expected.gradient), 'input gradient');
  });

  it('resnet18 (width 8, 32×32): the same logits and input gradients, BatchNorm folded as gradlens folds it', () => {
    const { logits, gradient, expected } = compare(resnet18({ width: 8, inputSize: 32 }), 2);
    expectAllClose(logits, expected.logits, tolerance(expected.logits), 'logits');
    expectAllClose(gradient, expected.gradient, tolerance(expected.gradient), 'input gradient');
  });

  it('resnet18 with every BatchNormalization run as tf.batchNorm: the same values', () => {
    const { logits, gradient, expected } = compare(resnet18({ width: 8, inputSize: 32 }), 2, { foldBatchNorm: false });
    expectAllClose(logits, expected.logits, tolerance(expected.logits), 'logits');
    expectAllClose(gradient, expected.gradient, tolerance(expected.gradient), 'input gradient');
  });

  it('the rest of the mapped ops (depthwise and grouped conv, ceil-mode and padded pooling, resize, axes): the same values, also where the AvgPool and ResizeBilinear gradients of TF.js would differ', () => {
    const { logits, gradient, expected } = compare(mappedOpsGraph(), 2, { foldBatchNorm: false });
    expectAllClose(logits, expected.logits, tolerance(expected.logits), 'logits');
    expectAllClose(gradient, expected.gradient, tolerance(expected.gradient), 'input gradient');
  });

  it('evaluate from an inner tensor: activation and gradient at a ResNet stage output, as Grad-CAM reads them', () => {
    const graph = resnet18({ width: 8, inputSize: 32 });
    const batch = 2;
    const layer = 'layer4_1_out';
    const input = randomTensor(batch * sizeOf(graph.inputShape), 29, 1);
    const seed = seedFor(graph, batch);
    const model = TfjsGraph.create(graph);
    const [activation, gradient] = tf.tidy(() => {
      const x = tf.tensor(input, [batch, ...graph.inputShape]);
      const a = model.evaluate(new Map([[graph.input, x]]), layer);
      const head = (z: tf.Tensor) =>
        tf.sum(
          tf.mul(
            model.evaluate(
              new Map([
                [graph.input, x],
                [layer, z],
              ]),
              graph.output,
            ),
            tf.tensor(seed, [batch, seed.length / batch]),
          ),
        );
      return [a.dataSync(), tf.grad(head)(a).dataSync()];
    });
    model.dispose();
    const values = referenceForward(graph, input, batch);
    const expected = { activation: values.get(layer)!, gradient: referenceGradients(graph, values, seed, batch).get(layer)! };
    expect(activation.length).toBe(expected.activation.length);
    expectAllClose(activation, expected.activation, tolerance(expected.activation), 'activation');
    expectAllClose(gradient, expected.gradient, tolerance(expected.gradient), 'gradient at the layer');
  });
});
