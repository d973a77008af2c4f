import { GradlensError } from '../../gpu/errors.ts';
import { attribute, sizeOf, type GraphNode, type Shape } from '../ir.ts';
import type { OpDefinition } from '../op.ts';

/** ONNX Reshape's target: 0 copies the input's dim (allowzero = 0), −1 takes what is left. */
export function reshapeTarget(input: Shape, requested: readonly number[], node: GraphNode): number[] {
  const shape = requested.map((dim, i) => (dim === 0 ? input[i]! : dim));
  const known = shape.filter((dim) => dim !== -1).reduce((a, b) => a * b, 1);
  const inferred = shape.map((dim) => (dim === -1 ? sizeOf(input) / known : dim));
  if (shape.filter((dim) => dim === -1).length > 1 || sizeOf(inferred) !== sizeOf(input) || !inferred.every(Number.isInteger)) {
    throw new GradlensError('BAD_MODEL', `Reshape "${node.name}": cannot reshape [${input}] to [${requested}]`);
  }
  return inferred;
}

/** Views: the output is the input's buffer read with another shape; gradients alias the same way. */
export const viewOps: Record<string, OpDefinition> = {
  Identity: { view: true, shape: ([x]) => [x!] },
  Flatten: {
    view: true,
    shape: ([x], node) => {
      const rank = x!.length;
      const axis = attribute(node, 'axis', 1);
      const split = axis < 0 ? axis + rank : axis;
      return [[sizeOf(x!.slice(0, split)), sizeOf(x!.slice(split))]];
    },
  },
  Reshape: {
    view: true,
    shape: ([x], node, constant) => {
      const requested = constant(1) ?? (node.attributes.shape as readonly number[] | undefined);
      if (!requested) throw new GradlensError('UNSUPPORTED_OP', `Reshape "${node.name}": the shape must be a constant`);
      return [reshapeTarget(x!, Array.from(requested), node)];
    },
  },
};
