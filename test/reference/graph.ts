// A float64 interpreter of the graph IR built from the per-op references: the oracle for whole-network values and
// gradients, and (through finite differences of its forward) for the gradient rules themselves.
import type { Graph, GraphNode, Shape } from '../../src/graph/ir.ts';
import { attribute, sizeOf } from '../../src/graph/ir.ts';
import { inferShapes } from '../../src/graph/shapes.ts';
import * as activation from './activation.ts';
import * as layernorm from './layernorm.ts';
import * as softmax from './softmax.ts';

export type Rules = 'standard' | 'guided-backprop' | 'deconvnet';

export interface ReferenceOp {
  forward(inputs: Float64Array[], shapes: Shape[], node: GraphNode, outShape: Shape): Float64Array;
  /** Gradients of the inputs (undefined where none is defined, e.g. weights). */
  backward(inputs: Float64Array[], output: Float64Array, dy: Float64Array, shapes: Shape[], node: GraphNode, rules: Rules): (Float64Array | undefined)[];
}

const pointwise = (op: activation.Activation, params: (node: GraphNode, inputs: Float64Array[]) => activation.ActivationParams): ReferenceOp => ({
  forward: ([x], _s, node, _o) => x!.map((v) => activation.forward(op, v, params(node, [x!]))),
  backward: (inputs, _y, dy, _s, node, rules) => [inputs[0]!.map((v, i) => activation.backward(op, v, dy[i]!, params(node, inputs), op === 'relu' ? rules : 'standard'))],
});
const none = { alpha: 0, beta: 0 };
const view: ReferenceOp = { forward: ([x]) => x!.slice(), backward: (_i, _y, dy) => [dy.slice()] };

function softmaxOp(op: softmax.SoftmaxOp): ReferenceOp {
  const shapeOf = (shape: Shape, node: GraphNode): softmax.SoftmaxShape => {
    const axis = (attribute(node, 'axis', -1) + shape.length) % shape.length;
    return { outer: sizeOf(shape.slice(0, axis)), axis: shape[axis]!, inner: sizeOf(shape.slice(axis + 1)) };
  };
  return {
    forward: ([x], [shape], node) => softmax.softmaxForward(op, x!, shapeOf(shape!, node)),
    backward: (_i, y, dy, [shape], node) => [softmax.softmaxBackward(op, y, dy, shapeOf(shape!, node))],
  };
}

const layerNormShape = (shape: Shape, node: GraphNode): layernorm.LayerNormShape => {
  const axis = (attribute(node, 'axis', -1) + shape.length) % shape.length;
  return { rows: sizeOf(shape.slice(0, axis)), size: sizeOf(shape.slice(axis)), epsilon: attribute(node, 'epsilon', 1e-5) };
};

export const REFERENCE_OPS: Record<string, ReferenceOp> = {
  Relu: pointwise('relu', () => none),
  LeakyRelu: pointwise('leaky-relu', (node) => ({ alpha: attribute(node, 'alpha', 0.01), beta: 0 })),
  Clip: pointwise('clip', (node, inputs) => ({ alpha: inputs[1]?.[0] ?? attribute(node, 'min', -3.4e38), beta: inputs[2]?.[0] ?? attribute(node, 'max', 3.4e38) })),
  Sigmoid: pointwise('sigmoid', () => none),
  Tanh: pointwise('tanh', () => none),
  Gelu: pointwise('gelu-erf', () => none),
  Identity: view,
  Flatten: view,
  Reshape: view,
  Softmax: softmaxOp('softmax'),
  LogSoftmax: softmaxOp('log-softmax'),
  LayerNormalization: {
    forward: ([x, scale, bias], [shape], node) => Float64Array.from(layernorm.layerNormForward(x!, scale!, bias, layerNormShape(shape!, node)).y),
    backward: ([x, scale, bias], _y, dy, [shape], node) => {
      const s = layerNormShape(shape!, node);
      const { mean, invStdDev } = layernorm.layerNormForward(x!, scale!, bias, s);
      return [layernorm.layerNormBackward(x!, scale!, mean, invStdDev, dy, s)];
    },
  },
};

/** Every tensor's value for one forward pass in float64. */
export function referenceForward(graph: Graph, input: ArrayLike<number>, batch: number): Map<string, Float64Array> {
  const shapes = inferShapes(graph, batch);
  const values = new Map<string, Float64Array>([[graph.input, Float64Array.from(input)]]);
  for (const [name, constant] of graph.constants) values.set(name, Float64Array.from(constant.data));
  for (const node of graph.nodes) {
    const op = REFERENCE_OPS[node.op];
    if (!op) throw new Error(`no reference for ${node.op}`);
    const inputs = node.inputs.map((name) => values.get(name)!);
    values.set(node.outputs[0]!, op.forward(inputs, node.inputs.map((n) => shapes.get(n)!), node, shapes.get(node.outputs[0]!)!));
  }
  return values;
}

/** Gradients of Σ seed ⊙ output with respect to every tensor that depends on the input (reverse mode, float64). */
export function referenceGradients(graph: Graph, values: Map<string, Float64Array>, seed: ArrayLike<number>, batch: number, rules: Rules = 'standard'): Map<string, Float64Array> {
  const shapes = inferShapes(graph, batch);
  const depends = new Set([graph.input]);
  for (const node of graph.nodes) if (node.inputs.some((n) => depends.has(n))) depends.add(node.outputs[0]!);
  const gradients = new Map<string, Float64Array>([[graph.output, Float64Array.from(seed)]]);
  for (const node of [...graph.nodes].reverse()) {
    const dy = gradients.get(node.outputs[0]!);
    if (!dy) continue;
    const inputs = node.inputs.map((name) => values.get(name)!);
    const parts = REFERENCE_OPS[node.op]!.backward(inputs, values.get(node.outputs[0]!)!, dy, node.inputs.map((n) => shapes.get(n)!), node, rules);
    node.inputs.forEach((name, i) => {
      const part = parts[i];
      if (!part || !depends.has(name)) return;
      const sum = gradients.get(name);
      gradients.set(name, sum ? sum.map((v, j) => v + part[j]!) : part);
    });
  }
  return gradients;
}
