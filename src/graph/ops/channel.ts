import { GradlensError } from '../../gpu/errors.ts';
import { batchNormBackward, batchNormForward, batchNormToAffine } from '../../kernels/channel.ts';
import { attribute } from '../ir.ts';
import type { OpDefinition } from '../op.ts';

/**
 * BatchNormalization in inference form, where it could not be folded into a Conv or Gemm: a per-channel affine map
 * whose scale and shift are computed once, on the CPU, from the constant statistics.
 */
const batchNormalization: OpDefinition = {
  shape: ([x]) => [x!],
  forward: async (c) => {
    const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) => c.constantData(i));
    if (!gamma || !beta || !mean || !variance) {
      throw new GradlensError(
        'UNSUPPORTED_OP',
        `BatchNormalization "${c.node.name}": scale, bias, mean and variance must be constants (inference form)`,
      );
    }
    const { scale, shift } = batchNormToAffine(gamma, beta, mean, variance, attribute(c.node, 'epsilon', 1e-5));
    const [scaleBuffer, shiftBuffer] = [c.saved('scale', scale.byteLength), c.saved('shift', shift.byteLength)];
    c.gpu.device.queue.writeBuffer(scaleBuffer, 0, scale as Float32Array<ArrayBuffer>);
    c.gpu.device.queue.writeBuffer(shiftBuffer, 0, shift as Float32Array<ArrayBuffer>);
    return [await batchNormForward(c.gpu, { x: c.input(0), scale: scaleBuffer, shift: shiftBuffer, y: c.output(0) }, { shape: c.inputShapes[0]! })];
  },
  backward: async (c) => {
    const target = c.inputGradient(0);
    if (!target) return [];
    const scale = c.saved('scale', c.inputShapes[0]![1]! * 4);
    const io = { gradY: c.outputGradient(0), scale, gradX: target.buffer };
    return [await batchNormBackward(c.gpu, io, { shape: c.inputShapes[0]!, accumulate: target.accumulate })];
  },
};

export const channelOps: Record<string, OpDefinition> = {
  BatchNormalization: batchNormalization,
};
