import { GradlensError } from '../../gpu/errors.ts';
import { activationBackward, activationForward, type ActivationDims, type ActivationOp } from '../../kernels/activation.ts';
import { rectGradBackward } from '../../kernels/attribution/rectgrad.ts';
import { broadcastShape } from '../../kernels/binary.ts';
import { attribute, sizeOf, type GraphNode } from '../ir.ts';
import { isRectGrad, rectGradPercentile, reluRule, type OpContext, type OpDefinition } from '../op.ts';
import { DEEPLIFT_RESCALED, deepLiftPointwise } from './deeplift.ts';

/** A pointwise (unary elementwise) op: same shape out, gradient from the forward's input. */
function pointwise(dims: (node: GraphNode, op: OpContext | undefined) => Omit<ActivationDims, 'count'>): OpDefinition {
  return {
    shape: ([x]) => [x!],
    forward: async (op) => [
      await activationForward(op.gpu, { x: op.input(0), y: op.output(0) }, { count: sizeOf(op.inputShapes[0]!), ...dims(op.node, op) }),
    ],
    backward: async (op) => {
      const target = op.inputGradient(0);
      if (!target) return [];
      const io = { x: op.input(0), gradY: op.outputGradient(0), gradX: target.buffer };
      const count = sizeOf(op.inputShapes[0]!);
      if (isRectGrad(op.rules) && op.node.op === 'Relu') {
        const batch = op.inputShapes[0]![0]!;
        const rectified = { count, batch, percentile: rectGradPercentile(op.rules), accumulate: target.accumulate };
        return rectGradBackward(op.gpu, { ...io, threshold: op.saved('rectgrad threshold', batch * 4) }, rectified);
      }
      const all = { count, ...dims(op.node, op), rule: reluRule(op.rules), accumulate: target.accumulate };
      if (op.rules === 'deeplift' && DEEPLIFT_RESCALED.has(op.node.op))
        return deepLiftPointwise(op, target, (fallback) => activationBackward(op.gpu, { ...io, gradX: fallback }, { ...all, accumulate: false }));
      return [await activationBackward(op.gpu, io, all)];
    },
  };
}

const fixed = (name: ActivationOp) => pointwise(() => ({ op: name }));

/** Clip's bounds: attributes before opset 11, constant inputs 1 and 2 after. Relu6 is Clip(0, 6). */
function clipBounds(node: GraphNode, op: OpContext | undefined): { alpha: number; beta: number } {
  const bound = (index: number, name: string, fallback: number) => {
    if (node.inputs[index]) {
      const data = op?.constantData(index);
      if (!data) throw new GradlensError('UNSUPPORTED_OP', `Clip "${node.name}": bound ${name} must be a constant`);
      return data[0]!;
    }
    return attribute(node, name, fallback);
  };
  return { alpha: bound(1, 'min', -3.4028234663852886e38), beta: bound(2, 'max', 3.4028234663852886e38) };
}

/** Pow's exponent: gradlens computes x^c for a constant c, one value for every element (x's gradient only). */
function powExponent(node: GraphNode, constant: (index: number) => Float32Array | undefined): number {
  const data = node.inputs[1] ? constant(1) : undefined;
  if (!data || data.length === 0 || data.some((v) => v !== data[0])) {
    throw new GradlensError('UNSUPPORTED_OP', `Pow "${node.name}": the exponent must be a constant with a single value (x^c)`);
  }
  return data[0]!;
}

const pow: OpDefinition = {
  ...pointwise((node, op) => ({ op: 'pow', alpha: powExponent(node, (i) => op?.constantData(i)) })),
  shape: ([x, exponent], node, constant) => {
    powExponent(node, constant);
    if (broadcastShape(x!, exponent!).join() !== x!.join()) {
      throw new GradlensError('UNSUPPORTED_OP', `Pow "${node.name}": an exponent of shape [${exponent}] would enlarge [${x}]`);
    }
    return [x!];
  },
};

export const activationOps: Record<string, OpDefinition> = {
  Relu: fixed('relu'),
  LeakyRelu: pointwise((node) => ({ op: 'leaky-relu', alpha: attribute(node, 'alpha', 0.01) })),
  Clip: pointwise((node, op) => ({ op: 'clip', ...clipBounds(node, op) })),
  Sigmoid: fixed('sigmoid'),
  Tanh: fixed('tanh'),
  Gelu: pointwise((node) => ({ op: attribute<string>(node, 'approximate', 'none') === 'tanh' ? 'gelu-tanh' : 'gelu-erf' })),
  HardSigmoid: pointwise((node) => ({ op: 'hard-sigmoid', alpha: attribute(node, 'alpha', 0.2), beta: attribute(node, 'beta', 0.5) })),
  HardSwish: fixed('hard-swish'),
  Sqrt: fixed('sqrt'),
  Exp: fixed('exp'),
  Log: fixed('log'),
  Neg: fixed('neg'),
  Abs: fixed('abs'),
  Reciprocal: fixed('reciprocal'),
  Erf: fixed('erf'),
  Pow: pow,
  Softplus: fixed('softplus'),
  Elu: pointwise((node) => ({ op: 'elu', alpha: attribute(node, 'alpha', 1) })),
  Selu: pointwise((node) => ({
    op: 'selu',
    alpha: attribute(node, 'alpha', 1.67326319217681884765625),
    beta: attribute(node, 'gamma', 1.05070102214813232421875),
  })),
  Mish: fixed('mish'),
};
