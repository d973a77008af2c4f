import { layerNormBackward, layerNormDims, layerNormForward } from '../../kernels/layernorm.ts';
import { attribute } from '../ir.ts';
import type { OpDefinition } from '../op.ts';

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

export const layerNormOps: Record<string, OpDefinition> = {
  LayerNormalization: layerNormalization,
};
