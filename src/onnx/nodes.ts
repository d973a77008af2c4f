import { GradlensError } from '../gpu/errors.ts';
import type { AttributeValue } from '../graph/ir.ts';
import type { OnnxAttribute, OnnxNode, OnnxTensor } from './proto.ts';
import type { TensorValue } from './tensor.ts';

// The model's nodes as the loader works on them: unique names, attributes in the IR's form, topological order.

export interface WorkNode {
  name: string;
  /** The op type; prefixed by its domain outside the default one (com.microsoft.FusedConv). */
  op: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, AttributeValue>;
  /** Tensor-valued attributes (Constant's value, ConstantOfShape's value). */
  tensors: Record<string, OnnxTensor>;
}

const utf8 = new TextDecoder('utf-8');

function attributeValue(a: OnnxAttribute): AttributeValue | undefined {
  switch (a.type || inferType(a)) {
    case 1:
      return a.f ?? 0;
    case 2:
      return a.i ?? 0;
    case 3:
      return a.s ? utf8.decode(a.s) : '';
    case 6:
      return a.floats;
    case 7:
      return a.ints;
    default:
      return undefined;
  }
}

function inferType(a: OnnxAttribute): number {
  if (a.f !== undefined) return 1;
  if (a.i !== undefined) return 2;
  if (a.s !== undefined) return 3;
  if (a.t !== undefined) return 4;
  if (a.floats.length > 0) return 6;
  if (a.ints.length > 0) return 7;
  return 0;
}

/** Nodes with unique names (the planner keys saved buffers by them) and attributes in the IR's form. */
export function workNodes(nodes: readonly OnnxNode[]): WorkNode[] {
  const used = new Set<string>();
  return nodes.map((node, k) => {
    const op = node.domain ? `${node.domain}.${node.opType}` : node.opType;
    let name = node.name || `${op}_${k}`;
    if (used.has(name)) name = `${name}_${k}`;
    used.add(name);
    const attributes: Record<string, AttributeValue> = {};
    const tensors: WorkNode['tensors'] = {};
    for (const a of node.attributes) {
      if (a.t) tensors[a.name] = a.t;
      const value = attributeValue(a);
      if (value !== undefined) attributes[a.name] = value;
    }
    return { name, op, inputs: [...node.inputs], outputs: [...node.outputs], attributes, tensors };
  });
}

/**
 * Nodes in an order where each comes after what it reads (ONNX asks for that; a few exporters do not keep it).
 * A name read but never produced is a missing initializer.
 */
export function sortNodes(nodes: WorkNode[], known: ReadonlyMap<string, TensorValue>, input: string, sparse: readonly string[]): WorkNode[] {
  const producer = new Map<string, WorkNode>();
  for (const node of nodes) {
    for (const name of node.outputs) {
      if (!name) continue;
      if (producer.has(name) || known.has(name) || name === input)
        throw new GradlensError('BAD_MODEL', `tensor "${name}" is produced twice (node "${node.name}")`);
      producer.set(name, node);
    }
  }
  const missing: string[] = [];
  for (const node of nodes) {
    for (const name of node.inputs) {
      if (!name || producer.has(name) || known.has(name) || name === input) continue;
      if (sparse.includes(name)) throw new GradlensError('BAD_MODEL', `initializer "${name}" is sparse; re-save the model with dense initializers`);
      missing.push(`"${name}" (read by ${node.op} "${node.name}")`);
    }
  }
  if (missing.length > 0) {
    throw new GradlensError(
      'MISSING_INITIALIZER',
      `the model reads ${missing.join(', ')}, which is neither an initializer, a node's output nor the graph's input. ` +
        'The file lacks weights: re-export it with them (torch.onnx.export(..., export_params=True)) or bind them with options.constants.',
    );
  }
  const order: WorkNode[] = [];
  const placed = new Set<WorkNode>();
  const visiting = new Set<WorkNode>();
  const visit = (root: WorkNode) => {
    // Iterative depth-first order: deep graphs must not exhaust the call stack.
    const stack: [WorkNode, number][] = [[root, 0]];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const [node, next] = top;
      if (next === 0) {
        if (placed.has(node)) {
          stack.pop();
          continue;
        }
        visiting.add(node);
      }
      if (next < node.inputs.length) {
        top[1] = next + 1;
        const dependency = producer.get(node.inputs[next]!);
        if (!dependency || placed.has(dependency)) continue;
        if (visiting.has(dependency)) throw new GradlensError('BAD_MODEL', `the graph has a cycle through node "${dependency.name}"`);
        stack.push([dependency, 0]);
        continue;
      }
      visiting.delete(node);
      placed.add(node);
      order.push(node);
      stack.pop();
    }
  };
  for (const node of nodes) visit(node);
  return order;
}
