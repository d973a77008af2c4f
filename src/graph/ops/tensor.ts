import {
  concatBackward,
  concatForward,
  concatShape,
  reduceMeanBackward,
  reduceMeanForward,
  reduceMeanShape,
  transposeBackward,
  transposeForward,
  transposeShape,
} from '../../kernels/tensor.ts';
import { attribute, type GraphNode, type Shape } from '../ir.ts';
import type { OpDefinition } from '../op.ts';

const perm = (node: GraphNode) => node.attributes.perm as readonly number[] | undefined;

const transpose: OpDefinition = {
  shape: ([x], node) => [transposeShape({ shape: x!, ...(perm(node) ? { perm: perm(node)! } : {}) })],
  forward: async (c) => [await transposeForward(c.gpu, { x: c.input(0), y: c.output(0) }, { shape: c.inputShapes[0]!, ...(perm(c.node) ? { perm: perm(c.node)! } : {}) })],
  backward: async (c) => {
    const target = c.inputGradient(0);
    if (!target) return [];
    const dims = { shape: c.inputShapes[0]!, ...(perm(c.node) ? { perm: perm(c.node)! } : {}), accumulate: target.accumulate };
    return [await transposeBackward(c.gpu, { gradY: c.outputGradient(0), gradX: target.buffer }, dims)];
  },
};

const concat: OpDefinition = {
  shape: (inputs, node) => [concatShape({ shapes: inputs, axis: attribute(node, 'axis', 0) })],
  forward: (c) => concatForward(c.gpu, { inputs: c.node.inputs.map((_, i) => c.input(i)), y: c.output(0) }, { shapes: c.inputShapes, axis: attribute(c.node, 'axis', 0) }),
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

/** ReduceMean: axes from the attribute (opset < 18) or a constant input 1 (opset 18). */
function reduceDims(shape: Shape, node: GraphNode, constant: (index: number) => Float32Array | undefined) {
  const axes = node.inputs[1] ? Array.from(constant(1) ?? []) : (node.attributes.axes as readonly number[] | undefined);
  return { shape, keepdims: attribute<number>(node, 'keepdims', 1) === 1, ...(axes ? { axes } : {}) };
}

const reduceMean: OpDefinition = {
  shape: ([x], node, constant) => [reduceMeanShape(reduceDims(x!, node, constant))],
  forward: async (c) => [await reduceMeanForward(c.gpu, { x: c.input(0), y: c.output(0) }, reduceDims(c.inputShapes[0]!, c.node, c.constantData))],
  backward: async (c) => {
    const target = c.inputGradient(0);
    if (!target) return [];
    const dims = { ...reduceDims(c.inputShapes[0]!, c.node, c.constantData), accumulate: target.accumulate };
    return [await reduceMeanBackward(c.gpu, { gradY: c.outputGradient(0), gradX: target.buffer }, dims)];
  },
};

export const tensorOps: Record<string, OpDefinition> = {
  Transpose: transpose,
  Concat: concat,
  ReduceMean: reduceMean,
};
