import type { Graph, GraphNode } from './ir.ts';
import { sizeOf } from './ir.ts';
import { opDefinition } from './registry.ts';
import { inferShapes } from './shapes.ts';

/**
 * Ops that are affine in one input while every other input is a constant: their vector-Jacobian product for that
 * input is one linear map whatever the input's value. Views (Reshape, Flatten, …) are affine too.
 */
const AFFINE = new Set([
  'Conv',
  'ConvTranspose',
  'Gemm',
  'MatMul',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Neg',
  'BatchNormalization',
  'AveragePool',
  'GlobalAveragePool',
  'Pad',
  'Slice',
  'Transpose',
]);
/** Ops affine in either of their first two inputs (the other one constant); the rest only in input 0 (Div's numerator). */
const EITHER_SIDE = new Set(['Add', 'Sub', 'Mul', 'MatMul', 'Gemm']);

/**
 * The model's affine beginning: the chain of nodes from the input, each the single reader of the tensor before it,
 * that are affine in it. The input gradient of any point is then one linear map L of the gradient at the chain's end,
 * so Σ_p w_p ∇ₓf(p) = L(Σ_p w_p g_p): the engine folds the points' gradients there and runs L once per input instead of
 * once per point (`end`, the model cut there, is what it runs). Where a Relu reads the end, its output is the `site`
 * and the fold keeps g only where it is positive (`masked`), so the Relu stays fused into the layer before it.
 */
export interface LinearPrefix {
  /** The last tensor of the affine chain. */
  end: string;
  /** Where the engine folds the gradients: `end`, or the output of the Relu that reads it. */
  site: string;
  /** The site is a Relu's output: g counts where the Relu's output is positive. */
  masked: boolean;
  /** Elements per sample at the site. */
  size: number;
}

const found = new WeakMap<Graph, LinearPrefix | undefined>();

/** The graph's affine beginning, found once per graph (every attribution call asks). */
export function linearPrefix(graph: Graph): LinearPrefix | undefined {
  if (!found.has(graph)) found.set(graph, findPrefix(graph));
  return found.get(graph);
}

function findPrefix(graph: Graph): LinearPrefix | undefined {
  if (graph.tokenIds) return undefined; // token ids have no gradient: text models attribute at their embedding
  const readers = new Map<string, GraphNode[]>();
  for (const node of graph.nodes) for (const name of new Set(node.inputs)) readers.set(name, [...(readers.get(name) ?? []), node]);
  const onlyReader = (name: string) => {
    const list = readers.get(name) ?? [];
    return list.length === 1 && name !== graph.output ? list[0] : undefined;
  };
  let end = graph.input;
  let computes = false; // a chain of views alone saves nothing
  for (let node = onlyReader(end); node && isAffineIn(node, end, graph); node = onlyReader(end)) {
    computes ||= !opDefinition(node.op).view;
    end = node.outputs[0]!;
  }
  if (!computes || end === graph.output) return undefined;
  const relu = onlyReader(end);
  const masked = relu?.op === 'Relu' && relu.outputs[0] !== graph.output;
  const site = masked ? relu!.outputs[0]! : end;
  const size = sizeOf(inferShapes(graph, 1).get(site)!.slice(1));
  return { end, site, masked, size };
}

function isAffineIn(node: GraphNode, tensor: string, graph: Graph): boolean {
  if (node.outputs.length !== 1 || 'activation' in node.attributes) return false;
  if (!AFFINE.has(node.op) && !opDefinition(node.op).view) return false;
  const at = node.inputs.indexOf(tensor);
  if (at !== node.inputs.lastIndexOf(tensor) || at > (EITHER_SIDE.has(node.op) ? 1 : 0)) return false;
  return node.inputs.every((name, i) => i === at || name === '' || graph.constants.has(name));
}
