import { GradlensError } from '../../gpu/errors.ts';
import { binaryBackward, binaryForward, broadcastShape, type BinaryOp } from '../../kernels/binary.ts';
import type { OpContext, OpDefinition } from '../op.ts';

/**
 * Elementwise ops of a and b with numpy broadcasting; each input's gradient is summed over the axes it was broadcast
 * along. `at` says which node inputs a, b (and Where's condition) are.
 */
function binary(op: BinaryOp, at: { a: number; b: number; condition?: number } = { a: 0, b: 1 }): OpDefinition {
  const dims = (c: OpContext) => ({
    op,
    aShape: c.inputShapes[at.a]!,
    bShape: c.inputShapes[at.b]!,
    ...(at.condition !== undefined ? { conditionShape: c.inputShapes[at.condition]! } : {}),
  });
  const operands = (c: OpContext) => ({
    a: c.input(at.a),
    b: c.input(at.b),
    ...(at.condition !== undefined ? { condition: c.input(at.condition) } : {}),
  });
  return {
    shape: (inputs) => [broadcastShape(inputs[at.a]!, inputs[at.b]!)],
    forward: async (c) => [await binaryForward(c.gpu, { ...operands(c), y: c.output(0) }, dims(c))],
    backward: async (c) => {
      const dispatches = [];
      for (const input of ['a', 'b'] as const) {
        const target = c.inputGradient(at[input]);
        if (!target) continue;
        const io = { gradY: c.outputGradient(0), gradX: target.buffer, ...operands(c) };
        dispatches.push(await binaryBackward(c.gpu, io, { ...dims(c), input, accumulate: target.accumulate }));
      }
      return dispatches;
    },
  };
}

/** Where(condition, X, Y) with a constant condition (attention masks): its gradient goes to X where true, else Y. */
const where: OpDefinition = {
  ...binary('where', { a: 1, b: 2, condition: 0 }),
  shape: ([condition, a, b], node, constant) => {
    if (!constant(0)) throw new GradlensError('UNSUPPORTED_OP', `Where "${node.name}": the condition must be a constant`);
    const out = broadcastShape(a!, b!);
    if (broadcastShape(out, condition!).join() !== out.join()) {
      throw new GradlensError('UNSUPPORTED_OP', `Where "${node.name}": a condition of shape [${condition}] would enlarge [${out}]`);
    }
    return [out];
  },
};

export const binaryOps: Record<string, OpDefinition> = {
  Add: binary('add'),
  Sub: binary('sub'),
  Mul: binary('mul'),
  Div: binary('div'),
  // Min and Max of more inputs arrive as chains of two (src/onnx/opsets.ts).
  Min: binary('min'),
  Max: binary('max'),
  Where: where,
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
