import {
  concatBackward,
  concatForward,
  concatShape,
  reduceBackward,
  reduceForward,
  reduceShape,
  type ReduceOp,
  transposeBackward,
  transposeForward,
  transposeShape,
} from '../../kernels/tensor.ts';
import { attribute, type GraphNode, type Shape } from '../ir.ts';
import type { OpContext, OpDefinition } from '../op.ts';

const perm = (node: GraphNode) => node.attributes.perm as readonly number[] | undefined;

const transpose: OpDefinition = {
  shape: ([x], node) => [transposeShape({ shape: x!, ...(perm(node) ? { perm: perm(node)! } : {}) })],
  forward: async (c) => [
    await transposeForward(c.gpu, { x: c.input(0), y: c.output(0) }, { shape: c.inputShapes[0]!, ...(perm(c.node) ? { perm: perm(c.node)! } : {}) }),
  ],
  backward: async (c) => {
    const target = c.inputGradient(0);
    if (!target) return [];
    const dims = { shape: c.inputShapes[0]!, ...(perm(c.node) ? { perm: perm(c.node)! } : {}), accumulate: target.accumulate };
    return [await transposeBackward(c.gpu, { gradY: c.outputGradient(0), gradX: target.buffer }, dims)];
  },
};

const concat: OpDefinition = {
  shape: (inputs, node) => [concatShape({ shapes: inputs, axis: attribute(node, 'axis', 0) })],
  forward: (c) =>
    concatForward(
      c.gpu,
      { inputs: c.node.inputs.map((_, i) => c.input(i)), y: c.output(0) },
      { shapes: c.inputShapes, axis: attribute(c.node, 'axis', 0) },
    ),
  backward: async (c) => {
    const dispatches = [];
    for (let input = 0; input < c.node.inputs.length; input++) {
      const target = c.inputGradient(input);
      if (!target) continue;
      const dims = { shapes: c.inputShapes, axis: attribute(c.node, 'axis', 0), input, accumulate: target.accumulate };
      dispatches.push(await concatBackward(c.gpu, { gradY: c.outputGradient(0), gradX: target.buffer }, dims));
    }
    return dispatches;
  },
};

/** Reduce*: axes from the attribute (opset < 18; ReduceSum < 13) or a constant input 1. */
function reduceDims(shape: Shape, node: GraphNode, constant: (index: number) => Float32Array | undefined, op: ReduceOp) {
  const axes = node.inputs[1] ? Array.from(constant(1) ?? []) : (node.attributes.axes as readonly number[] | undefined);
  return { shape, op, keepdims: attribute<number>(node, 'keepdims', 1) === 1, ...(axes ? { axes } : {}) };
}

/** A reduction; Max, Min and L2 keep their output and the tie counts for the backward. */
function reduce(op: ReduceOp): OpDefinition {
  const dims = (c: OpContext) => reduceDims(c.inputShapes[0]!, c.node, c.constantData, op);
  const ties = (c: OpContext) => c.saved('ties', c.outputShapes[0]!.reduce((a, b) => a * b, 1) * 4);
  return {
    shape: ([x], node, constant) => [reduceShape(reduceDims(x!, node, constant, op))],
    forward: async (c) => [await reduceForward(c.gpu, { x: c.input(0), y: c.output(0), ties: ties(c) }, dims(c))],
    backward: async (c) => {
      const target = c.inputGradient(0);
      if (!target) return [];
      const io = { gradY: c.outputGradient(0), gradX: target.buffer, x: c.input(0), y: c.output(0), ties: ties(c) };
      return [await reduceBackward(c.gpu, io, { ...dims(c), accumulate: target.accumulate })];
    },
  };
}

export const tensorOps: Record<string, OpDefinition> = {
  Transpose: transpose,
  Concat: concat,
  ReduceMean: reduce('mean'),
  ReduceSum: reduce('sum'),
  ReduceL2: reduce('l2'),
  ReduceMax: reduce('max'),
  ReduceMin: reduce('min'),
  ReduceL1: reduce('l1'),
  ReduceSumSquare: reduce('sum-square'),
};
