import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/graph/builder.ts';
import { Model } from '../../src/graph/model.ts';
import { loadOnnx } from '../../src/onnx/load.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { modelBytes, type NodeSpec } from '../onnx/onnx-writer.ts';

// Issue 16 items 9 and 11: planning grows with the graph, not its square; a tensor no buffer can hold is a model-level
// error found when planning, before any input runs. No timings: a quadratic planner makes the first test time out.

describe('planning scales with the graph', () => {
  it('a 20 000-node chain loads, plans (forward and backward) and runs', async () => {
    const depth = 20_000;
    const nodes: NodeSpec[] = Array.from({ length: depth }, (_, k) => ({
      op: k % 2 ? 'Relu' : 'Sigmoid',
      inputs: [k ? `t${k - 1}` : 'x'],
      outputs: [k === depth - 1 ? 'y' : `t${k}`],
    }));
    const graph = loadOnnx(modelBytes({ nodes, inputs: [{ name: 'x', dims: ['n', 4] }], outputs: [{ name: 'y' }] }));
    expect(graph.nodes).toHaveLength(depth);
    const model = await Model.create(await testContext(), graph);
    try {
      const plan = await model.plan({ batch: 1, objective: 'logit' });
      const input = Float32Array.of(-1, 2, -3, 4);
      const { output, inputGradient } = await plan.run({ input, target: 0 });
      // Sigmoid then Relu, 10 000 times, in float64: values settle at sigmoid's fixed point, gradients vanish.
      const expected = Array.from(input, (v) => {
        for (let k = 0; k < depth / 2; k++) v = Math.max(0, 1 / (1 + Math.exp(-v)));
        return v;
      });
      expectAllClose(output, expected, { abs: 1e-5, rel: 1e-5 }, 'output');
      expectAllClose(inputGradient!, [0, 0, 0, 0], { abs: 1e-30, rel: 0 }, 'input gradient');
      plan.destroy();
    } finally {
      model.destroy();
    }
  }, 300_000);
});

describe('a tensor larger than the device binds is refused when planning', () => {
  /** [1, 8, 8] upsampled by `factor` on each side: 256·factor² bytes of float32 per sample. */
  function upsampler(factor: number) {
    const b = new GraphBuilder('upsampler');
    const x = b.input([1, 8, 8]);
    const scales = b.constant(Float32Array.of(1, 1, factor, factor), [4], 'scales');
    return b.build(b.node('Resize', [x, '', scales], { mode: 'nearest' }, 'big'));
  }

  it('at batch 1 it is the model (at this input size) that is too large: BUFFER_TOO_LARGE naming the tensor', async () => {
    const context = await testContext();
    const limit = Math.min(context.device.limits.maxStorageBufferBindingSize, context.device.limits.maxBufferSize);
    const factor = 2 ** Math.ceil(Math.log2(Math.sqrt(limit / 256)) + 1);
    const model = await Model.create(context, upsampler(factor));
    try {
      await expect(model.plan({ batch: 1, objective: 'logit' })).rejects.toMatchObject({
        code: 'BUFFER_TOO_LARGE',
        message: expect.stringMatching(/tensor "big" \[1, 1, \d+, \d+\] needs .* MiB at batch 1.*too large for this device/),
      });
    } finally {
      model.destroy();
    }
  });

  it('where one sample fits, the error says which batch does', async () => {
    const context = await testContext();
    const limit = Math.min(context.device.limits.maxStorageBufferBindingSize, context.device.limits.maxBufferSize);
    const factor = 2 ** Math.floor(Math.log2(Math.sqrt(limit / 256)) - 1); // a quarter of the limit, or less
    const model = await Model.create(context, upsampler(factor));
    try {
      const perSample = 256 * factor * factor;
      const fits = Math.floor(limit / perSample);
      await expect(model.plan({ batch: fits + 1, objective: 'none' })).rejects.toMatchObject({
        code: 'BUFFER_TOO_LARGE',
        message: expect.stringContaining(`use a batch of at most ${fits}`),
      });
    } finally {
      model.destroy();
    }
  });
});
