import { binaryBackward, binaryForward, broadcastShape, type BinaryOp } from '../../kernels/binary.ts';
import { batchNormBackward, batchNormForward, batchNormToAffine } from '../../kernels/channel.ts';
import { GradlensError } from '../../gpu/errors.ts';
import { attribute } from '../ir.ts';
import type { OpContext, OpDefinition } from '../op.ts';

/** Add, Sub, Mul, Div with numpy broadcasting; each input's gradient is summed over the axes it was broadcast along. */
function binary(op: BinaryOp): OpDefinition {
  const dims = (c: OpContext) => ({ op, aShape: c.inputShapes[0]!, bShape: c.inputShapes[1]! });
  return {
    shape: ([a, b]) => [broadcastShape(a!, b!)],
    forward: async (c) => [await binaryForward(c.gpu, { a: c.input(0), b: c.input(1), y: c.output(0) }, dims(c))],
    backward: async (c) => {
      const dispatches = [];
      for (const [index, input] of [[0, 'a'], [1, 'b']] as const) {
        const target = c.inputGradient(index);
        if (!target) continue;
        const io = { gradY: c.outputGradient(0), gradX: target.buffer, a: c.input(0), b: c.input(1) };
        dispatches.push(await binaryBackward(c.gpu, io, { ...dims(c), input, accumulate: target.accumulate }));
      }
      return dispatches;
    },
  };
}

/**
 * BatchNormalization in inference form, where it could not be folded into a Conv or Gemm: a per-channel affine map
 * whose scale and shift are computed once, on the CPU, from the constant statistics.
 */
const batchNormalization: OpDefinition = {
  shape: ([x]) => [x!],
  forward: async (c) => {
    const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) => c.constantData(i));
    if (!gamma || !beta || !mean || !variance) {
      throw new GradlensError('UNSUPPORTED_OP', `BatchNormalization "${c.node.name}": scale, bias, mean and variance must be constants (inference form)`);
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

export const arithmeticOps: Record<string, OpDefinition> = {
  Add: binary('add'),
  Sub: binary('sub'),
  Mul: binary('mul'),
  Div: binary('div'),
  BatchNormalization: batchNormalization,
};
