import { GradlensError } from '../gpu/errors.ts';
import type { Graph, Shape } from './ir.ts';
import { opDefinition } from './registry.ts';

/** Shapes of every tensor for a batch size: the rules are batch-generic, the batch is the plan's choice. */
export function inferShapes(graph: Graph, batch: number): Map<string, Shape> {
  const shapes = new Map<string, Shape>([[graph.input, [batch, ...graph.inputShape]]]);
  for (const [name, constant] of graph.constants) shapes.set(name, constant.shape);
  for (const node of graph.nodes) {
    const inputs = node.inputs.map((name) => {
      const shape = name === '' ? [] : shapes.get(name);
      if (!shape) throw new GradlensError('BAD_MODEL', `node "${node.name}" (${node.op}) reads "${name}", which nothing produces before it`);
      return shape;
    });
    const constant = (index: number) => graph.constants.get(node.inputs[index] ?? '')?.data;
    const outputs = opDefinition(node.op).shape(inputs, node, constant);
    node.outputs.forEach((name, i) => {
      if (outputs[i]) shapes.set(name, outputs[i]!);
    });
  }
  if (!shapes.has(graph.output)) throw new GradlensError('BAD_MODEL', `the graph's output "${graph.output}" is never produced`);
  return shapes;
}
