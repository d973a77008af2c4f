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
    const plan = await model.plan({ batch, objective: 'given', capture: ['residual', 'gated'] });
    const input = randomTensor(batch * 2 * 81, 21, 2);
    const seed = randomTensor(batch * 20, 22);
    const values = referenceForward(graph, input, batch);
    const gradients = referenceGradients(graph, values, seed, batch);
    const result = await plan.run({ input, outputGradient: seed });
    expectAllClose(result.output, values.get('logits')!, TOLERANCE, 'output');
    expectAllClose(result.activations.residual!, values.get('residual')!, TOLERANCE, 'residual');
    expectAllClose(result.gradients.residual!, gradients.get('residual')!, TOLERANCE, 'residual gradient (two readers)');
    expectAllClose(result.gradients.gated!, gradients.get('gated')!, TOLERANCE, 'gated gradient');
    expectAllClose(result.inputGradient!, gradients.get('input')!, TOLERANCE, 'input gradient');
    model.destroy();
  });
});
