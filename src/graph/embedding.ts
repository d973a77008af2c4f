import { GradlensError } from '../gpu/errors.ts';
import type { Graph } from './ir.ts';
import { OPS } from './registry.ts';

/**
 * The token embedding output of a text model: the tensor a Gather makes from a constant table by the integer input (or
 * by the input through views and casts). Token attribution is taken there, as Captum's LayerIntegratedGradients on
 * the embedding layer. The first such Gather in graph order (token embeddings come before position or segment ones,
 * which are not looked up by the input). Errors: BAD_PARAMS where the graph has none.
 */
export function embeddingOutput(graph: Graph): string {
  const fromInput = new Set([graph.input]);
  for (const node of graph.nodes) {
    if (node.op === 'Gather' && graph.constants.has(node.inputs[0]!) && fromInput.has(node.inputs[1]!)) return node.outputs[0]!;
    if ((OPS[node.op]?.view || node.op === 'Cast') && fromInput.has(node.inputs[0]!)) fromInput.add(node.outputs[0]!);
  }
  throw new GradlensError(
    'BAD_PARAMS',
    `${graph.name} has no token embedding: no Gather looks rows of a constant table up by its input "${graph.input}"; ` +
      'name the tensor to attribute at with layer (--layer)',
  );
}
