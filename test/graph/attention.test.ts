import { afterAll, describe, expect, it } from 'vitest';
import { Model } from '../../src/graph/model.ts';
import { loadOnnx } from '../../src/onnx/load.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { DataType, modelBytes, type NodeSpec, type TensorSpec } from '../onnx/onnx-writer.ts';
import { referenceForward, referenceGradients } from '../reference/graph.ts';
import { randomTensor } from '../reference/random.ts';

/**
 * Issue 13: attention as torch exports it (q, k, v projections, heads split by Reshape and Transpose, rank-4 MatMuls,
 * a scale, an additive mask, Softmax over the last axis) runs at full speed: each MatMul is one batched GEMM dispatch
 * with batch × heads in its grid, forward and per operand backward, however many heads; no per-head loops.
 */

const TOKENS = 6;
const WIDTH = 16;
const BATCH = 3;

/** One self-attention block over [batch, TOKENS, WIDTH] with `heads` heads, flattened to [batch, TOKENS·WIDTH]. */
function attention(heads: number): Uint8Array {
  const d = WIDTH / heads;
  const weight = (name: string, seed: number): TensorSpec => ({
    name,
    dims: [WIDTH, WIDTH],
    values: Array.from(randomTensor(WIDTH * WIDTH, seed, 0.3)),
  });
  const ints = (name: string, values: number[]): TensorSpec => ({ name, dims: [values.length], dataType: DataType.int64, values });
  const split = (x: string): NodeSpec[] => [
    { op: 'MatMul', inputs: ['x', `w${x}`], outputs: [`${x}_flat`] },
    { op: 'Reshape', inputs: [`${x}_flat`, 'heads_shape'], outputs: [`${x}_heads`] },
    { op: 'Transpose', inputs: [`${x}_heads`], outputs: [x], attributes: { perm: x === 'k' ? [0, 2, 3, 1] : [0, 2, 1, 3] } },
  ];
  const mask = Array.from({ length: TOKENS * TOKENS }, (_, i) => (i % TOKENS > Math.floor(i / TOKENS) + 1 ? -100 : 0)); // a band: −100 off it
  return modelBytes({
    opset: 13,
    nodes: [
      ...split('q'),
      ...split('k'),
      ...split('v'),
      { op: 'MatMul', inputs: ['q', 'k'], outputs: ['scores'] },
      { op: 'Mul', inputs: ['scores', 'scale'], outputs: ['scaled'] },
      { op: 'Add', inputs: ['scaled', 'mask'], outputs: ['masked'] },
      { op: 'Softmax', inputs: ['masked'], outputs: ['weights'], attributes: { axis: -1 } },
      { op: 'MatMul', inputs: ['weights', 'v'], outputs: ['context'] },
      { op: 'Transpose', inputs: ['context'], outputs: ['merged'], attributes: { perm: [0, 2, 1, 3] } },
      { op: 'Flatten', inputs: ['merged'], outputs: ['y'], attributes: { axis: 1 } },
    ],
    initializers: [
      weight('wq', 1),
      weight('wk', 2),
      weight('wv', 3),
      ints('heads_shape', [0, TOKENS, heads, d]),
      { name: 'scale', dims: [], values: [1 / Math.sqrt(d)] },
      { name: 'mask', dims: [1, 1, TOKENS, TOKENS], values: mask },
    ],
    inputs: [{ name: 'x', dims: ['batch', TOKENS, WIDTH] }],
    outputs: [{ name: 'y' }],
  });
}

const models: Model[] = [];
afterAll(() => models.forEach((model) => model.destroy()));

/** The plan's dispatches by kernel, and its input gradient against the float64 reference. */
async function planOf(heads: number): Promise<Map<string, number>> {
  const graph = loadOnnx(attention(heads));
  const model = await Model.create(await testContext(), graph);
  models.push(model);
  const plan = await model.plan({ batch: BATCH, objective: 'given' });
  const input = randomTensor(BATCH * TOKENS * WIDTH, 10 + heads);
  const seed = randomTensor(BATCH * TOKENS * WIDTH, 20 + heads);
  const { output, inputGradient } = await plan.run({ input, outputGradient: seed });
  const values = referenceForward(graph, input, BATCH);
  // float32 against float64 through two chained products and a softmax of order-1 values
  expectAllClose(output, values.get(graph.output)!, { abs: 1e-5, rel: 1e-4 }, `${heads} heads: output`);
  expectAllClose(
    inputGradient!,
    referenceGradients(graph, values, seed, BATCH).get(graph.input)!,
    { abs: 1e-5, rel: 1e-4 },
    `${heads} heads: gradient`,
  );
  const counts = new Map<string, number>();
  for (const dispatch of plan.dispatches) counts.set(dispatch.bound.kernel.name, (counts.get(dispatch.bound.kernel.name) ?? 0) + 1);
  plan.destroy();
  return counts;
}

describe('attention as exported', () => {
  it('each MatMul is one batched GEMM dispatch (forward, and per operand backward) and Softmax one each way, for 2 or 8 heads', async () => {
    const [two, eight] = [await planOf(2), await planOf(8)];
    expect(eight).toEqual(two); // the heads live in the grid, not in a loop of dispatches
    const gemm = [...two].filter(([name]) => name.includes('gemm'));
    // 5 MatMuls forward; backward: the input's gradient through the 3 projections, both operands of the 2 others
    expect(gemm.reduce((sum, [, count]) => sum + count, 0)).toBe(5 + 3 + 2 * 2);
    const softmax = [...two].filter(([name]) => name.includes('softmax'));
    expect(softmax.reduce((sum, [, count]) => sum + count, 0)).toBe(2);
  });
});
