import { layerNormBackward, layerNormDims, layerNormForward } from '../../kernels/layernorm.ts';
import { softmaxBackward, softmaxDims, softmaxForward, type SoftmaxOp } from '../../kernels/softmax.ts';
import { attribute } from '../ir.ts';
import type { OpDefinition } from '../op.ts';

/** Softmax / LogSoftmax over one axis (opset 13 semantics; default the last axis). The backward reads the output. */
function softmax(op: SoftmaxOp): OpDefinition {
  const dims = (shape: readonly number[], axis: number) => softmaxDims(shape, axis, op);
  return {
    shape: ([x]) => [x!],
    forward: async (c) => [await softmaxForward(c.gpu, { x: c.input(0), y: c.output(0) }, dims(c.inputShapes[0]!, attribute(c.node, 'axis', -1)))],
    backward: async (c) => {
      const target = c.inputGradient(0);
      if (!target) return [];
      const all = { ...dims(c.inputShapes[0]!, attribute(c.node, 'axis', -1)), accumulate: target.accumulate };
      return [await softmaxBackward(c.gpu, { y: c.output(0), gradY: c.outputGradient(0), gradX: target.buffer }, all)];
    },
  };
}

/** LayerNormalization (opset 17) over the axes from `axis` on; mean and 1/σ per row are kept for the backward. */
const layerNormalization: OpDefinition = {
  shape: ([x]) => [x!],
  forward: async (c) => {
    const { rows, size } = layerNormDims(c.inputShapes[0]!, attribute(c.node, 'axis', -1));
    const io = {
      x: c.input(0),
      scale: c.input(1),
      ...(c.node.inputs[2] ? { bias: c.input(2) } : {}),
      y: c.output(0),
      mean: c.saved('mean', rows * 4),
      invStdDev: c.saved('inverse std', rows * 4),
    };
    return [await layerNormForward(c.gpu, io, { rows, size, epsilon: attribute(c.node, 'epsilon', 1e-5) })];
  },
  backward: async (c) => {
    const target = c.inputGradient(0);
    if (!target) return [];
    const { rows, size } = layerNormDims(c.inputShapes[0]!, attribute(c.node, 'axis', -1));
    const io = {
      x: c.input(0),
      scale: c.input(1),
      mean: c.saved('mean', rows * 4),
      invStdDev: c.saved('inverse std', rows * 4),
      gradY: c.outputGradient(0),
      gradX: target.buffer,
    };
    return [await layerNormBackward(c.gpu, io, { rows, size, epsilon: attribute(c.node, 'epsilon', 1e-5), accumulate: target.accumulate })];
  },
};

export const normalizationOps: Record<string, OpDefinition> = {
  Softmax: softmax('softmax'),
  LogSoftmax: softmax('log-softmax'),
  LayerNormalization: layerNormalization,
};
