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

/** Squeeze / Unsqueeze axes: the constant input 1 (opset 13) or the `axes` attribute (earlier opsets). */
function axesOf(node: GraphNode, constant: (index: number) => Float32Array | undefined): number[] | undefined {
  const input = node.inputs[1] ? constant(1) : undefined;
  if (node.inputs[1] && !input) throw new GradlensError('UNSUPPORTED_OP', `${node.op} "${node.name}": the axes must be a constant`);
  return input ? Array.from(input) : (node.attributes.axes as readonly number[] | undefined)?.slice();
}

function normalAxes(axes: readonly number[], rank: number, node: GraphNode): number[] {
  const normal = axes.map((a) => (a < 0 ? a + rank : a));
  if (normal.some((a) => !Number.isInteger(a) || a < 0 || a >= rank) || new Set(normal).size !== normal.length) {
    throw new GradlensError('BAD_MODEL', `${node.op} "${node.name}": axes [${axes}] do not fit rank ${rank}`);
  }
  return normal;
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
  /** Without axes every dimension of size 1 goes, the batch's too when it is 1: importers should give axes. */
  Squeeze: {
    view: true,
    shape: ([x], node, constant) => {
      const given = axesOf(node, constant);
      const axes = given ? normalAxes(given, x!.length, node) : x!.flatMap((dim, i) => (dim === 1 ? [i] : []));
      if (axes.some((a) => x![a] !== 1)) throw new GradlensError('BAD_MODEL', `Squeeze "${node.name}": axes [${given}] of [${x}] are not all 1`);
      return [x!.filter((_, i) => !axes.includes(i))];
    },
  },
  Unsqueeze: {
    view: true,
    shape: ([x], node, constant) => {
      const given = axesOf(node, constant);
      if (!given) throw new GradlensError('BAD_MODEL', `Unsqueeze "${node.name}": no axes`);
      const axes = normalAxes(given, x!.length + given.length, node);
      const rest = [...x!];
      return [Array.from({ length: x!.length + axes.length }, (_, i) => (axes.includes(i) ? 1 : rest.shift()!))];
    },
  },
  /** Inference: the identity on output 0 (the mask, output 1, is not produced). */
  Dropout: { view: true, shape: ([x]) => [x!] },
  Reshape: {
    view: true,
    shape: ([x], node, constant) => {
      const requested = constant(1) ?? (node.attributes.shape as readonly number[] | undefined);
      if (!requested) throw new GradlensError('UNSUPPORTED_OP', `Reshape "${node.name}": the shape must be a constant`);
      return [reshapeTarget(x!, Array.from(requested), node)];
    },
  },
};
