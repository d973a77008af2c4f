import { explain, type ExplainOptions } from '../../src/attribution/explain.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import type { Graph } from '../../src/graph/ir.ts';
import { Model } from '../../src/graph/model.ts';
import { testContext } from './gpu.ts';

/** Explains with a fresh model of `graph` on the file's device, then frees the model. */
export async function explainGraph(graph: Graph, inputs: Float32Array, count: number, options: ExplainOptions) {
  const model = await Model.create(await testContext(), graph);
  try {
    return await explain(model, inputs, count, options);
  } finally {
    model.destroy();
  }
}

/** A tiny ReLU net worked out by hand: h = relu(A x), f = c · h, with h1 = x1 − x2, h2 = 2 x1 + x2, c = (3, −2). */
export function tinyRelu(): Graph {
  const b = new GraphBuilder('tiny', 1);
  const x = b.input([2]);
  const A = b.constant(Float32Array.of(1, -1, 2, 1), [2, 2], 'A');
  const c = b.constant(Float32Array.of(3, -2), [1, 2], 'c');
  const h = b.node('Relu', [b.node('Gemm', [x, A], { transB: 1 })]);
  return b.build(b.node('Gemm', [h, c], { transB: 1 }));
}
