import { GradlensError } from '../gpu/errors.ts';
import type { Graph } from './ir.ts';
import type { OpDefinition } from './op.ts';
import { activationOps } from './ops/activation.ts';
import { binaryOps } from './ops/binary.ts';
import { channelOps } from './ops/channel.ts';
import { conv2dOps } from './ops/conv2d.ts';
import { gatherOps } from './ops/gather.ts';
import { gemmOps } from './ops/gemm.ts';
import { layerNormOps } from './ops/layernorm.ts';
import { poolOps } from './ops/pool.ts';
import { resizeOps } from './ops/resize.ts';
import { softmaxOps } from './ops/softmax.ts';
import { tensorOps } from './ops/tensor.ts';
import { viewOps } from './ops/views.ts';

/** Every supported op, by ONNX name, one table per op family (src/graph/ops/<family>.ts beside shaders/<family>.wgsl). */
export const OPS: Readonly<Record<string, OpDefinition>> = {
  ...activationOps,
  ...binaryOps,
  ...channelOps,
  ...conv2dOps,
  ...gatherOps,
  ...gemmOps,
  ...layerNormOps,
  ...poolOps,
  ...resizeOps,
  ...softmaxOps,
  ...tensorOps,
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
