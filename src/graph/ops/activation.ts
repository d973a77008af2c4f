import { GradlensError } from '../../gpu/errors.ts';
import { activationBackward, activationForward, type ActivationDims, type ActivationOp } from '../../kernels/activation.ts';
import { rectGradBackward } from '../../kernels/attribution/rectgrad.ts';
import { attribute, sizeOf, type GraphNode } from '../ir.ts';
import { isRectGrad, rectGradPercentile, type OpContext, type OpDefinition } from '../op.ts';

/** A pointwise activation: same shape out, gradient from the forward's input. */
function pointwise(dims: (node: GraphNode, op: OpContext | undefined) => Omit<ActivationDims, 'count'>): OpDefinition {
  return {
    shape: ([x]) => [x!],
    forward: async (op) => [await activationForward(op.gpu, { x: op.input(0), y: op.output(0) }, { count: sizeOf(op.inputShapes[0]!), ...dims(op.node, op) })],
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
      const all = { count, ...dims(op.node, op), rule: isRectGrad(op.rules) ? 'standard' : op.rules, accumulate: target.accumulate };
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

export const activationOps: Record<string, OpDefinition> = {
  Relu: fixed('relu'),
  LeakyRelu: pointwise((node) => ({ op: 'leaky-relu', alpha: attribute(node, 'alpha', 0.01) })),
  Clip: pointwise((node, op) => ({ op: 'clip', ...clipBounds(node, op) })),
  Sigmoid: fixed('sigmoid'),
  Tanh: fixed('tanh'),
  Gelu: pointwise((node) => ({ op: attribute<string>(node, 'approximate', 'none') === 'tanh' ? 'gelu-tanh' : 'gelu-erf' })),
};
