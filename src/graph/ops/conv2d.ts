import { conv2dBackwardInput, conv2dForward, conv2dOutputSize, type Conv2dDims } from '../../kernels/conv2d.ts';
import { GradlensError } from '../../gpu/errors.ts';
import { binaryForward } from '../../kernels/binary.ts';
import { transposeBackward } from '../../kernels/tensor.ts';
import { attribute, type GraphNode, type Shape } from '../ir.ts';
import { halfWeightsOf, type OpDefinition } from '../op.ts';
import { fusedActivation, preActivationGradient } from './fused.ts';
import { explicitPads, lifted, unlifted, type Pair } from './window.ts';

/** Conv's dims, 1-D (NCL) lifted to 2-D (NC1L). */
function convDims(xGiven: Shape, wGiven: Shape, nodeGiven: GraphNode): Conv2dDims {
  const { shape: x, node } = lifted(xGiven, nodeGiven);
  const w = lifted(wGiven, nodeGiven).shape;
  if (x.length !== 4 || w.length !== 4)
    throw new GradlensError('UNSUPPORTED_OP', `Conv "${node.name}": only 1-D and 2-D convolution (NCL, NCHW) are supported`);
  const group = attribute(node, 'group', 1);
  if (x[1] !== w[1]! * group)
    throw new GradlensError('BAD_MODEL', `Conv "${node.name}": input has ${x[1]} channels, weights expect ${w[1]! * group}`);
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
    return [unlifted(x!, [dims.batch, dims.outChannels, ...conv2dOutputSize(dims)])];
  },
  forward: async (c) => {
    const io = { x: c.input(0), w: c.input(1), ...(c.node.inputs[2] ? { bias: c.input(2) } : {}), y: c.output(0) };
    const dims = { ...convDims(c.inputShapes[0]!, c.inputShapes[1]!, c.node), activation: fusedActivation(c.node), halfW: halfWeightsOf(c) };
    return [await conv2dForward(c.gpu, io, dims)];
  },
  backward: async (c) => {
    const target = c.inputGradient(0);
    if (!target) return [];
    const { dispatches, gradient } = await preActivationGradient(c);
    const dims = { ...convDims(c.inputShapes[0]!, c.inputShapes[1]!, c.node), accumulate: target.accumulate, halfW: halfWeightsOf(c) };
    return [...dispatches, await conv2dBackwardInput(c.gpu, { gradY: gradient, w: c.input(1), gradX: target.buffer }, dims)];
  },
};

/**
 * ConvTranspose as the adjoint of the Conv it undoes: its output is that Conv's input, so the forward is the Conv's
 * input-gradient kernel and the backward its forward kernel. W [C_in, C_out/group, kh, kw] is that Conv's weight as
 * stored. Pads from `pads`, or from `output_shape` / `auto_pad` by ONNX's rule; `output_padding` adds rows at the end.
 */
function convTransposeDims(xGiven: Shape, wGiven: Shape, nodeGiven: GraphNode): { conv: Conv2dDims; output: Shape } {
  const { shape: x, node } = lifted(xGiven, nodeGiven);
  const w = lifted(wGiven, nodeGiven).shape;
  const where = `ConvTranspose "${node.name}"`;
  if (x.length !== 4 || w.length !== 4) throw new GradlensError('UNSUPPORTED_OP', `${where}: only 1-D and 2-D (NCL, NCHW) are supported`);
  if (x[1] !== w[0]) throw new GradlensError('BAD_MODEL', `${where}: input has ${x[1]} channels, weights expect ${w[0]}`);
  const group = attribute(node, 'group', 1);
  const pair = (name: string, fallback: number) => attribute<readonly number[]>(node, name, [fallback, fallback]) as unknown as Pair;
  const [strides, dilations] = [pair('strides', 1), pair('dilations', 1)];
  const extra: Pair = [...pair('output_padding', 0)];
  const kernel: Pair = [w[2]!, w[3]!];
  const input: Pair = [x[2]!, x[3]!];
  const full = (a: 0 | 1) => strides[a] * (input[a] - 1) + extra[a] + (kernel[a] - 1) * dilations[a] + 1; // the size with no padding
  const autoPad = attribute<string>(node, 'auto_pad', 'NOTSET');
  const wanted = node.attributes.output_shape as readonly number[] | undefined;
  let pads: [number, number, number, number];
  if (wanted || autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const size = (a: 0 | 1) => (wanted ? wanted[wanted.length - 2 + a]! : input[a] * strides[a]);
    // An output_shape past the full size is output padding at the end (as ONNX Runtime reads it).
    const [th, tw] = ([0, 1] as const).map((a) => {
      const total = full(a) - size(a);
      if (total < 0) extra[a] -= total;
      return Math.max(total, 0);
    }) as Pair;
    const upper = autoPad === 'SAME_UPPER';
    const split = (t: number): Pair => (upper ? [Math.floor(t / 2), t - Math.floor(t / 2)] : [t - Math.floor(t / 2), Math.floor(t / 2)]);
    const [[top, bottom], [left, right]] = [split(th), split(tw)];
    pads = [top, left, bottom, right];
  } else {
    pads =
      autoPad === 'VALID' ? [0, 0, 0, 0] : (attribute<readonly number[]>(node, 'pads', [0, 0, 0, 0]) as unknown as [number, number, number, number]);
  }
  if (pads.some((p) => p < 0))
    throw new GradlensError('UNSUPPORTED_OP', `${where}: an output larger than the full transposed convolution (negative pads)`);
  const [height, width] = [full(0) - pads[0] - pads[2], full(1) - pads[1] - pads[3]];
  const conv = {
    batch: x[0]!,
    inChannels: w[1]! * group,
    height,
    width,
    outChannels: x[1]!,
    kernelHeight: kernel[0],
    kernelWidth: kernel[1],
    strides,
    dilations,
    pads,
    group,
  };
  if (conv2dOutputSize(conv).join() !== input.join()) {
    throw new GradlensError('BAD_MODEL', `${where}: output_padding [${extra}] must be below the strides [${strides}] or dilations [${dilations}]`);
  }
  return { conv, output: unlifted(xGiven, [conv.batch, conv.inChannels, height, width]) };
}

const convTranspose: OpDefinition = {
  shape: ([x, w], node) => [convTransposeDims(x!, w!, node).output],
  forward: async (c) => {
    const { conv, output } = convTransposeDims(c.inputShapes[0]!, c.inputShapes[1]!, c.node);
    const count = output.reduce((a, b) => a * b, 1);
    const bias = c.node.inputs[2] ? c.input(2) : undefined;
    const transposed = bias ? c.saved('before the bias', count * 4) : c.output(0);
    const dispatches = [
      await conv2dBackwardInput(c.gpu, { gradY: c.input(0), w: c.input(1), gradX: transposed }, { ...conv, halfW: halfWeightsOf(c) }),
    ];
    if (bias) {
      const shape = [conv.batch, conv.inChannels, conv.height, conv.width];
      dispatches.push(
        await binaryForward(c.gpu, { a: transposed, b: bias, y: c.output(0) }, { op: 'add', aShape: shape, bShape: [conv.inChannels, 1, 1] }),
      );
    }
    return dispatches;
  },
  backward: async (c) => {
    const target = c.inputGradient(0);
    if (!target) return [];
    const { conv } = convTransposeDims(c.inputShapes[0]!, c.inputShapes[1]!, c.node);
    const x = c.inputShapes[0]!;
    // The Conv kernel overwrites its output: into a scratch buffer first when the gradient must be added.
    const into = target.accumulate ? c.saved('input gradient', x.reduce((a, b) => a * b, 1) * 4) : target.buffer;
    const dispatches = [await conv2dForward(c.gpu, { x: c.outputGradient(0), w: c.input(1), y: into }, { ...conv, halfW: halfWeightsOf(c) })];
    if (target.accumulate)
      dispatches.push(
        await transposeBackward(c.gpu, { gradY: into, gradX: target.buffer }, { shape: x, perm: x.map((_, d) => d), accumulate: true }),
      );
    return dispatches;
  },
};

export const conv2dOps: Record<string, OpDefinition> = {
  Conv: conv,
  ConvTranspose: convTranspose,
};
