import { GradlensError } from '../gpu/errors.ts';
import type { Graph } from './ir.ts';
import type { OpDefinition } from './op.ts';
import { activationOps } from './ops/activation.ts';
import { arithmeticOps } from './ops/arithmetic.ts';
import { layoutOps } from './ops/layout.ts';
import { linearOps } from './ops/linear.ts';
import { normalizationOps } from './ops/normalization.ts';
import { spatialOps } from './ops/spatial.ts';
import { viewOps } from './ops/views.ts';

/** Every supported op, by ONNX name: adding an op is one declaration here (and its kernel and test). */
export const OPS: Readonly<Record<string, OpDefinition>> = {
  ...activationOps,
  ...normalizationOps,
  ...arithmeticOps,
  ...layoutOps,
  ...spatialOps,
  ...linearOps,
  ...viewOps,
};

export function opDefinition(type: string): OpDefinition {
  const definition = OPS[type];
  if (!definition) throw new GradlensError('UNSUPPORTED_OP', `op ${type} is not supported`);
  return definition;
}

/** Refuses a graph with unsupported ops, naming every unsupported type with its nodes at once. */
export function checkSupported(graph: Graph): void {
  const missing = new Map<string, string[]>();
  for (const node of graph.nodes) {
    if (!OPS[node.op]) missing.set(node.op, [...(missing.get(node.op) ?? []), node.name]);
  }
  if (missing.size > 0) {
    const list = [...missing].map(([op, nodes]) => `${op} (${nodes.join(', ')})`).join('; ');
    throw new GradlensError('UNSUPPORTED_OP', `unsupported ops: ${list}. Supported: ${Object.keys(OPS).sort().join(', ')}`);
  }
}
