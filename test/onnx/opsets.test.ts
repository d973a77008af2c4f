import { describe, expect, it } from 'vitest';
import type { Graph } from '../../src/graph/ir.ts';
import { Model } from '../../src/graph/model.ts';
import { loadOnnx } from '../../src/onnx/load.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { randomTensor } from '../reference/random.ts';
import { modelBytes, type NodeSpec, type TensorSpec } from './onnx-writer.ts';

// Older and rewritten forms (src/onnx/opsets.ts) against their definitions, on the GPU.

async function forward(graph: Graph, input: Float32Array, batch: number): Promise<Float32Array> {
  const model = await Model.create(await testContext(), graph);
  try {
    const plan = await model.plan({ batch, objective: 'none' });
    return (await plan.run({ input })).output;
  } finally {
    model.destroy();
  }
}

const model = (nodes: NodeSpec[], shape: number[], initializers: TensorSpec[] = [], opset = 13) =>
  modelBytes({ opset, nodes, initializers, inputs: [{ name: 'x', dims: ['batch', ...shape] }], outputs: [{ name: 'y' }] });

/** Σ over every assignment of the indices of a·b, by the definition of einsum. */
function einsum(equation: string, a: Float32Array, aShape: number[], b: Float32Array, bShape: number[]): Float64Array {
  const [inputs, out] = equation.split('->') as [string, string];
  const [ta, tb] = inputs.split(',') as [string, string];
  const extent = new Map<string, number>();
  [...ta].forEach((index, d) => extent.set(index, aShape[d]!));
  [...tb].forEach((index, d) => extent.set(index, bShape[d]!));
  const all = [...extent.keys()];
  const flat = (term: string, values: Map<string, number>) => [...term].reduce((sum, index) => sum * extent.get(index)! + values.get(index)!, 0);
  const y = new Float64Array([...out].reduce((n, index) => n * extent.get(index)!, 1));
  const total = all.reduce((n, index) => n * extent.get(index)!, 1);
  for (let k = 0; k < total; k++) {
    const values = new Map<string, number>();
    let rest = k;
    for (const index of [...all].reverse()) {
      values.set(index, rest % extent.get(index)!);
      rest = Math.floor(rest / extent.get(index)!);
    }
    y[flat(out, values)]! += a[flat(ta, values)]! * b[flat(tb, values)]!;
  }
  return y;
}

describe('Einsum in the forms attention uses, as transposes around a MatMul', () => {
  // [equation, x's shape (batch first), the second operand's: x times a constant of its shape past the batch, or a weight]
  const CASES: [string, number[], number[] | 'x'][] = [
    ['bhid,bhjd->bhij', [2, 3, 5, 4], 'x'], // scores q·kᵀ
    ['bhij,bhjd->bhid', [2, 3, 5, 5], 'x'], // weights·v
    ['bqhd,bkhd->bhqk', [2, 5, 3, 4], 'x'], // heads after the sequence axis
    ['bid,dj->bij', [2, 5, 4], [4, 3]], // a linear layer
    ['bid,dj->bji', [2, 5, 4], [4, 3]],
  ];
  for (const [equation, xShape, second] of CASES) {
    it(equation, async () => {
      const wShape = second === 'x' ? xShape.slice(1) : second;
      const w = randomTensor(
        wShape.reduce((p, q) => p * q, 1),
        1,
      );
      const nodes: NodeSpec[] =
        second === 'x'
          ? [
              { op: 'Mul', inputs: ['x', 'w'], outputs: ['xw'] },
              { op: 'Einsum', inputs: ['x', 'xw'], outputs: ['y'], attributes: { equation } },
            ]
          : [{ op: 'Einsum', inputs: ['x', 'w'], outputs: ['y'], attributes: { equation } }];
      const graph = loadOnnx(model(nodes, xShape.slice(1), [{ name: 'w', dims: wShape, values: [...w] }], 12));
      expect(graph.nodes.map((node) => node.op)).toContain('MatMul');
      const x = randomTensor(
        xShape.reduce((p, q) => p * q, 1),
        2,
      );
      const y = await forward(graph, x, xShape[0]!);
      const [bShape, b] = second === 'x' ? [xShape, x.map((v, i) => Math.fround(v * w[i % w.length]!))] : [second, w];
      // Sums of ≤ 5 products of order 1 in f32.
      expectAllClose(y, einsum(equation, x, xShape, b, bShape), { abs: 1e-5, rel: 1e-5 }, equation);
    });
  }

  it('refuses the forms it does not rewrite, saying why', () => {
    const load = (equation: string) => () =>
      loadOnnx(
        model(
          [{ op: 'Einsum', inputs: ['x', 'w'], outputs: ['y'], attributes: { equation } }],
          [3, 3],
          [{ name: 'w', dims: [2, 3, 3], values: [...randomTensor(18, 3)] }],
          12,
        ),
      );
    expect(load('bii,bij->bij')).toThrow(/diagonal/);
    expect(load('bij,bjk->b')).toThrow(/summed within one operand|one contracted index/);
  });
});

describe('Upsample (opsets 7–9) as Resize', () => {
  it('nearest, scales as an attribute (opset 7) and as an input (opset 9): each value repeated ⌊out/scale⌋', async () => {
    const x = randomTensor(2 * 3 * 2 * 3, 4);
    const expected = Float64Array.from({ length: 2 * 3 * 4 * 9 }, (_, i) => {
      const [w, h, c, n] = [i % 9, Math.floor(i / 9) % 4, Math.floor(i / 36) % 3, Math.floor(i / 108)];
      return x[((n * 3 + c) * 2 + Math.floor(h / 2)) * 3 + Math.floor(w / 3)]!;
    });
    const early = loadOnnx(
      model([{ op: 'Upsample', inputs: ['x'], outputs: ['y'], attributes: { mode: 'nearest', scales: [1, 1, 2, 3] } }], [3, 2, 3], [], 7),
    );
    const late = loadOnnx(
      model(
        [{ op: 'Upsample', inputs: ['x', 's'], outputs: ['y'], attributes: { mode: 'nearest' } }],
        [3, 2, 3],
        [{ name: 's', dims: [4], values: [1, 1, 2, 3] }],
        9,
      ),
    );
    for (const graph of [early, late]) {
      expect(graph.nodes.map((node) => node.op)).toEqual(['Resize']);
      expect([...(await forward(graph, x, 2))]).toEqual([...expected].map(Math.fround));
    }
  });
});
