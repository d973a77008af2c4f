import { GradlensError } from '../../gpu/errors.ts';
import { binaryBackward, binaryForward, broadcastShape, type BinaryOp } from '../../kernels/binary.ts';
import type { OpContext, OpDefinition } from '../op.ts';

/** Two-input elementwise ops with numpy broadcasting; each input's gradient is summed over the axes it was broadcast along. */
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

export const binaryOps: Record<string, OpDefinition> = {
  Add: binary('add'),
  Sub: binary('sub'),
  Mul: binary('mul'),
  Div: binary('div'),
  // Min and Max of more inputs arrive as chains of two (src/onnx/opsets.ts).
  Min: binary('min'),
  Max: binary('max'),
  PRelu: {
    ...binary('prelu'),
    // The slope broadcasts to x one way only (ONNX's unidirectional broadcasting).
    shape: ([x, slope], node) => {
      if (broadcastShape(x!, slope!).join() !== x!.join()) {
        throw new GradlensError('BAD_MODEL', `PRelu "${node.name}": slope of shape [${slope}] does not broadcast to [${x}]`);
      }
      return [x!];
    },
  },
};
