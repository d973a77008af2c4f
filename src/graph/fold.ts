import type { Constant, Graph, GraphNode } from './ir.ts';
import { attribute } from './ir.ts';

/**
 * Folds inference-form BatchNormalization into the Conv or Gemm (transB = 1) that feeds it, when nothing else
 * reads the pre-normalisation tensor: w' = w·s, b' = b·s + t with s = γ/√(var + ε), t = β − mean·s (in float64).
 * Tensors named in `keep` (captured ones) are never folded away.
 */
export function foldBatchNorm(graph: Graph, keep: ReadonlySet<string> = new Set()): Graph {
  const constants = new Map(graph.constants);
  const producers = new Map(graph.nodes.map((node) => [node.outputs[0]!, node]));
  const readers = countReaders(graph);
  const replaced = new Map<GraphNode, GraphNode>();
  const dropped = new Set<GraphNode>();
  for (const node of graph.nodes) {
    if (node.op !== 'BatchNormalization') continue;
    const [x, gamma, beta, mean, variance] = node.inputs.map((name) => constants.get(name));
    const producer = producers.get(node.inputs[0]!);
    if (gamma === undefined || beta === undefined || mean === undefined || variance === undefined || x !== undefined) continue;
    if (!producer || readers.get(node.inputs[0]!) !== 1 || keep.has(node.inputs[0]!) || node.inputs[0] === graph.output) continue;
    const foldable =
      producer.op === 'Conv' ||
      (producer.op === 'Gemm' && attribute<number>(producer, 'transB', 0) === 1 && attribute<number>(producer, 'transA', 0) === 0);
    const weight = constants.get(producer.inputs[1] ?? '');
    if (!foldable || !weight || replaced.has(producer)) continue;
    const epsilon = attribute(node, 'epsilon', 1e-5);
    const channels = gamma.data.length;
    const scale = Array.from({ length: channels }, (_, c) => gamma.data[c]! / Math.sqrt(variance.data[c]! + epsilon));
    const perChannel = weight.data.length / channels;
    const folded: Constant = { shape: weight.shape, data: Float32Array.from(weight.data, (w, i) => w * scale[Math.floor(i / perChannel)]!) };
    const oldBias = constants.get(producer.inputs[2] ?? '')?.data;
    const bias: Constant = {
      shape: [channels],
      data: Float32Array.from({ length: channels }, (_, c) => (oldBias?.[c] ?? 0) * scale[c]! + beta.data[c]! - mean.data[c]! * scale[c]!),
    };
    const weightName = `${producer.name}.folded_weight`;
    const biasName = `${producer.name}.folded_bias`;
    constants.set(weightName, folded);
    constants.set(biasName, bias);
    replaced.set(producer, { ...producer, inputs: [producer.inputs[0]!, weightName, biasName], outputs: node.outputs });
    dropped.add(node);
  }
  const nodes = graph.nodes.filter((node) => !dropped.has(node)).map((node) => replaced.get(node) ?? node);
  return { ...graph, nodes, constants: pruneConstants(constants, nodes) };
}

/**
 * Marks a Conv or Gemm whose only reader is a Relu to apply the ReLU in its own epilogue (attribute `activation`),
 * so the pre-activation tensor is never written. The Relu's output name is kept; `keep` tensors are never fused away.
 */
export function fuseRelu(graph: Graph, keep: ReadonlySet<string> = new Set()): Graph {
  const readers = countReaders(graph);
  const producers = new Map(graph.nodes.map((node) => [node.outputs[0]!, node]));
  const fused = new Map<GraphNode, GraphNode>();
  const dropped = new Set<GraphNode>();
  for (const node of graph.nodes) {
    if (node.op !== 'Relu') continue;
    const input = node.inputs[0]!;
    const producer = producers.get(input);
    if (!producer || (producer.op !== 'Conv' && producer.op !== 'Gemm') || 'activation' in producer.attributes) continue;
    if (readers.get(input) !== 1 || keep.has(input) || input === graph.output) continue;
    fused.set(producer, { ...producer, outputs: node.outputs, attributes: { ...producer.attributes, activation: 'relu' } });
    dropped.add(node);
  }
  return { ...graph, nodes: graph.nodes.filter((node) => !dropped.has(node)).map((node) => fused.get(node) ?? node) };
}

function countReaders(graph: Graph): Map<string, number> {
  const readers = new Map<string, number>();
  for (const node of graph.nodes) for (const name of node.inputs) readers.set(name, (readers.get(name) ?? 0) + 1);
  return readers;
}

function pruneConstants(constants: Map<string, Constant>, nodes: readonly GraphNode[]): Map<string, Constant> {
  const used = new Set(nodes.flatMap((node) => node.inputs));
  return new Map([...constants].filter(([name]) => used.has(name)));
}
