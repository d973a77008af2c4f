import { GraphBuilder } from '../../src/graph/builder.ts';
import type { Graph } from '../../src/graph/ir.ts';

/** f(x) = w·x + b on an input of `shape` (flattened), as one Gemm: a model whose every metric is known in closed form. */
export function linearModel(w: readonly number[], b: number, shape: readonly number[] = [w.length]): Graph {
  const builder = new GraphBuilder('linear');
  let x = builder.input(shape);
  if (shape.length > 1) x = builder.node('Flatten', [x], { axis: 1 });
  const weight = builder.constant(Float32Array.from(w), [1, w.length], 'weight');
  const bias = builder.constant(Float32Array.of(b), [1], 'bias');
  return builder.build(builder.node('Gemm', [x, weight, bias], { transB: 1 }, 'fc'));
}
