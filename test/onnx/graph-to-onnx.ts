// A gradlens Graph written as ONNX bytes: so a model built in TypeScript (any size, seeded weights) can be run by an
// independent runtime (onnxruntime) as the oracle for gradlens's own forward pass.
import type { AttributeValue, Graph } from '../../src/graph/ir.ts';
import { modelBytes, type AttributeSpec } from './onnx-writer.ts';

/** Attributes ONNX types as floats; every other number is an int. */
const FLOAT_ATTRIBUTES = new Set(['epsilon', 'alpha', 'beta', 'momentum']);

function attributeSpec(name: string, value: AttributeValue): AttributeSpec {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return FLOAT_ATTRIBUTES.has(name) ? { float: value } : value;
  return [...value];
}

export function graphToOnnx(graph: Graph, opset = 13): Uint8Array {
  return modelBytes({
    opset,
    name: graph.name,
    nodes: graph.nodes.map((node) => ({
      op: node.op,
      name: node.name,
      inputs: [...node.inputs],
      outputs: [...node.outputs],
      attributes: Object.fromEntries(Object.entries(node.attributes).map(([name, value]) => [name, attributeSpec(name, value)])),
    })),
    initializers: [...graph.constants].map(([name, constant]) => ({
      name,
      dims: constant.shape,
      raw: new Uint8Array(constant.data.buffer, constant.data.byteOffset, constant.data.byteLength),
    })),
    inputs: [{ name: graph.input, dims: ['N', ...graph.inputShape] }],
    outputs: [{ name: graph.output }],
  });
}
