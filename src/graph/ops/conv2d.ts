import { conv2dBackwardInput, conv2dForward, conv2dOutputSize, type Conv2dDims } from '../../kernels/conv2d.ts';
import { GradlensError } from '../../gpu/errors.ts';
import { attribute, type GraphNode, type Shape } from '../ir.ts';
import type { OpDefinition } from '../op.ts';
import { fusedActivation, preActivationGradient } from './fused.ts';
import { explicitPads } from './window.ts';

function convDims(x: Shape, w: Shape, node: GraphNode): Conv2dDims {
  if (x.length !== 4 || w.length !== 4) throw new GradlensError('UNSUPPORTED_OP', `Conv "${node.name}": only 2-D convolution (NCHW) is supported`);
  const group = attribute(node, 'group', 1);
  if (x[1] !== w[1]! * group) throw new GradlensError('BAD_MODEL', `Conv "${node.name}": input has ${x[1]} channels, weights expect ${w[1]! * group}`);
  const strides = attribute<readonly number[]>(node, 'strides', [1, 1]) as [number, number];
  const dilations = attribute<readonly number[]>(node, 'dilations', [1, 1]) as [number, number];
  const kernel: [number, number] = [w[2]!, w[3]!];
  return {
    batch: x[0]!,
    inChannels: x[1]!,
    height: x[2]!,
    width: x[3]!,
    outChannels: w[0]!,
    kernelHeight: kernel[0],
    kernelWidth: kernel[1],
    strides,
    dilations,
    pads: explicitPads(node, [x[2]!, x[3]!], kernel, strides, dilations),
    group,
  };
}

const conv: OpDefinition = {
  shape: ([x, w], node) => {
    const dims = convDims(x!, w!, node);
    return [[dims.batch, dims.outChannels, ...conv2dOutputSize(dims)]];
  },
  forward: async (c) => {
    const io = { x: c.input(0), w: c.input(1), ...(c.node.inputs[2] ? { bias: c.input(2) } : {}), y: c.output(0) };
    return [await conv2dForward(c.gpu, io, { ...convDims(c.inputShapes[0]!, c.inputShapes[1]!, c.node), activation: fusedActivation(c.node) })];
  },
  backward: async (c) => {
    const target = c.inputGradient(0);
    if (!target) return [];
    const { dispatches, gradient } = await preActivationGradient(c);
    const dims = { ...convDims(c.inputShapes[0]!, c.inputShapes[1]!, c.node), accumulate: target.accumulate };
    return [...dispatches, await conv2dBackwardInput(c.gpu, { gradY: gradient, w: c.input(1), gradX: target.buffer }, dims)];
  },
};

export const conv2dOps: Record<string, OpDefinition> = {
  Conv: conv,
};
