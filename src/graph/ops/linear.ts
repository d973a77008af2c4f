import type { Dispatch } from '../../gpu/commands.ts';
import { activationBackward } from '../../kernels/activation.ts';
import { conv2dBackwardInput, conv2dForward, conv2dOutputSize, type Conv2dDims } from '../../kernels/conv2d.ts';
import { gemm, gemmBackwardA, gemmBackwardB, gemmDims, matmulDims } from '../../kernels/gemm.ts';
import { GradlensError } from '../../gpu/errors.ts';
import { rectGradBackward } from '../../kernels/rectgrad.ts';
import { attribute, sizeOf, type GraphNode, type Shape } from '../ir.ts';
import { isRectGrad, rectGradPercentile, type OpContext, type OpDefinition } from '../op.ts';
import { explicitPads } from './spatial.ts';

/** Set by the planner's fusion pass (src/graph/fold.ts) when a Relu follows and nothing else reads the pre-activation. */
const fusedActivation = (node: GraphNode): 'relu' | 'none' => (attribute<string>(node, 'activation', 'none') === 'relu' ? 'relu' : 'none');

/**
 * The gradient reaching a Conv/Gemm's own output: with a fused ReLU, first the ReLU's backward (under the plan's
 * rule set) on the saved post-activation output, whose sign is the pre-activation's.
 */
async function preActivationGradient(c: OpContext): Promise<{ dispatches: Dispatch[]; gradient: GPUBuffer }> {
  if (fusedActivation(c.node) === 'none') return { dispatches: [], gradient: c.outputGradient(0) };
  const count = sizeOf(c.outputShapes[0]!);
  const gradient = c.saved('pre-activation gradient', count * 4);
  const io = { x: c.output(0), gradY: c.outputGradient(0), gradX: gradient };
  if (isRectGrad(c.rules)) {
    const batch = c.outputShapes[0]![0]!;
    const threshold = c.saved('rectgrad threshold', batch * 4);
    return { dispatches: await rectGradBackward(c.gpu, { ...io, threshold }, { count, batch, percentile: rectGradPercentile(c.rules) }), gradient };
  }
  return { dispatches: [await activationBackward(c.gpu, io, { count, op: 'relu', rule: c.rules })], gradient };
}

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

const gemmOf = (c: OpContext | { inputShapes: Shape[]; node: GraphNode }) => ({
  ...gemmDims(c.inputShapes[0]!, c.inputShapes[1]!, attribute<number>(c.node, 'transA', 0) === 1, attribute<number>(c.node, 'transB', 0) === 1),
  alpha: attribute<number>(c.node, 'alpha', 1),
});

/** ONNX Gemm: Y = alpha·op(A)·op(B) + beta·C, C broadcast; an activation may be fused after it. */
const gemmOp: OpDefinition = {
  shape: (inputs, node) => [gemmOf({ inputShapes: inputs, node }).outputShape],
  forward: async (c) => {
    const dims = { ...gemmOf(c), activation: fusedActivation(c.node), beta: attribute<number>(c.node, 'beta', 1) };
    const bias = c.node.inputs[2] ? { bias: c.input(2) } : {};
    return gemm(c.gpu, { a: c.input(0), b: c.input(1), ...bias, c: c.output(0) }, { ...dims, ...(c.node.inputs[2] ? { biasShape: c.inputShapes[2]! } : {}) });
  },
  backward: (c) => linearBackward(c, gemmOf(c)),
};

/** ONNX MatMul (numpy semantics): either operand may be an activation, and both may need gradients. */
const matmul: OpDefinition = {
  shape: ([a, b]) => [matmulDims(a!, b!).outputShape],
  forward: (c) => gemm(c.gpu, { a: c.input(0), b: c.input(1), c: c.output(0) }, matmulDims(c.inputShapes[0]!, c.inputShapes[1]!)),
  backward: (c) => linearBackward(c, matmulDims(c.inputShapes[0]!, c.inputShapes[1]!)),
};

async function linearBackward(c: OpContext, dims: Parameters<typeof gemmBackwardA>[2]): Promise<Dispatch[]> {
  const [gradA, gradB] = [c.inputGradient(0), c.inputGradient(1)];
  if (!gradA && !gradB) return [];
  const { dispatches, gradient } = await preActivationGradient(c);
  if (gradA) dispatches.push(...(await gemmBackwardA(c.gpu, { b: c.input(1), gradC: gradient, gradA: gradA.buffer }, { ...dims, accumulate: gradA.accumulate })));
  if (gradB) dispatches.push(...(await gemmBackwardB(c.gpu, { a: c.input(0), gradC: gradient, gradB: gradB.buffer }, { ...dims, accumulate: gradB.accumulate })));
  return dispatches;
}

export const linearOps: Record<string, OpDefinition> = {
  Conv: conv,
  Gemm: gemmOp,
  MatMul: matmul,
};
