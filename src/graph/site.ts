import { GradlensError } from '../gpu/errors.ts';
import type { Graph, GraphNode } from './ir.ts';

/**
 * A tensor a layer or neuron method works at (Captum's `layer`): where the backward pass stops, whose value and
 * gradient a plan exposes, and, with `inject`, whose value the caller gives instead of its producer.
 */
export interface LayerSite {
  /** The tensor, as the graph names it (after BatchNorm folding). */
  tensor: string;
  /**
   * Only this node's read of the tensor (Captum's attribute_to_layer_input hooks one module's input): the site is a
   * copy of the tensor that this node alone reads, so other readers (a residual branch) keep the tensor's own value.
   */
  reader?: string;
  /**
   * The caller writes the site's value for every sample (LayerIntegratedGradients' interpolated activations): the
   * model's part after the site runs on it, and its producer's result is discarded.
   */
  inject?: boolean;
}

/** The graph a plan runs for a site and an output, and the name of the site's tensor in it. */
export function siteGraph(graph: Graph, site: LayerSite | undefined, output: string | undefined): { graph: Graph; site?: string } {
  let result = output === undefined || output === graph.output ? graph : truncate(graph, output);
  if (!site) return { graph: result };
  const producedHere = result.nodes.some((node) => node.outputs.includes(site.tensor)) || site.tensor === result.input;
  if (!producedHere || result.constants.has(site.tensor))
    throw new GradlensError('BAD_PARAMS', `layer "${site.tensor}" is not a computed tensor of ${graph.name}`);
  if (site.reader === undefined) {
    if (site.inject && site.tensor === result.input)
      throw new GradlensError('BAD_PARAMS', `layer "${site.tensor}" is the model's input: attribute to the input itself instead`);
    return { graph: result, site: site.tensor };
  }
  const at = result.nodes.findIndex((node) => node.name === site.reader);
  const reader = result.nodes[at];
  if (!reader || !reader.inputs.includes(site.tensor))
    throw new GradlensError('BAD_PARAMS', `node "${site.reader}" does not read "${site.tensor}" in ${graph.name}`);
  // The reader's own view of the tensor: an Identity only it reads (a view, so no copy unless the site is injected).
  const copy = `${site.tensor} → ${reader.name}`;
  const identity: GraphNode = { name: copy, op: 'Identity', inputs: [site.tensor], outputs: [copy], attributes: {} };
  const rewired: GraphNode = { ...reader, inputs: reader.inputs.map((name) => (name === site.tensor ? copy : name)) };
  const nodes = [...result.nodes.slice(0, at), identity, rewired, ...result.nodes.slice(at + 1)];
  result = { ...result, nodes };
  return { graph: result, site: copy };
}

/** The graph up to `output` (a neuron method's layer): the nodes it needs, in their order. */
function truncate(graph: Graph, output: string): Graph {
  const needed = new Set([output]);
  const nodes: GraphNode[] = [];
  for (const node of [...graph.nodes].reverse()) {
    if (!node.outputs.some((name) => needed.has(name))) continue;
    nodes.unshift(node);
    node.inputs.forEach((name) => needed.add(name));
  }
  if (!nodes.length && output !== graph.input) throw new GradlensError('BAD_PARAMS', `"${output}" is not a computed tensor of ${graph.name}`);
  return { ...graph, output, nodes, labels: undefined };
}
