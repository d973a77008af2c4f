import { GradlensError } from '../gpu/errors.ts';
import type { Graph } from './ir.ts';
import { inferShapes } from './shapes.ts';

/**
 * The part of `graph` after `tensor`, with `tensor` as its input: what a layer method integrates over when the layer
 * is a cut of the network (a token embedding, which only the ids reach). Its gradient at the input is the original
 * graph's at `tensor`. Errors: BAD_PARAMS when `tensor` is not one, or when the output also depends on the input by
 * another route (then values at `tensor` alone do not determine the output).
 */
export function graphFrom(graph: Graph, tensor: string): Graph {
  const producer = new Map(graph.nodes.flatMap((node) => node.outputs.map((output) => [output, node] as const)));
  if (!producer.has(tensor)) {
    throw new GradlensError('BAD_PARAMS', `layer "${tensor}" is not a tensor a node of ${graph.name} makes (a node output name, as --layer takes)`);
  }
  const needed = new Set<string>();
  const visit = (name: string): void => {
    if (name === '' || name === tensor || graph.constants.has(name) || needed.has(name)) return;
    const node = producer.get(name);
    if (!node) {
      throw new GradlensError(
        'BAD_PARAMS',
        `${graph.name}'s output depends on its input "${graph.input}" other than through "${tensor}": attribution at it needs the whole network`,
      );
    }
    needed.add(name);
    node.inputs.forEach(visit);
  };
  visit(graph.output);
  const nodes = graph.nodes.filter((node) => node.outputs.some((output) => needed.has(output)));
  const shape = inferShapes(graph, 1).get(tensor)!.slice(1);
  const cut: Graph = { name: `${graph.name} from ${tensor}`, input: tensor, inputShape: shape, output: graph.output, nodes, constants: graph.constants };
  if (graph.labels) cut.labels = graph.labels;
  return cut;
}
