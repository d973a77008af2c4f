import { describe, expect, it } from 'vitest';
import { FOLD_LIMIT, FOLD_TOTAL } from '../../src/onnx/evaluate.ts';
import { loadOnnx } from '../../src/onnx/load.ts';
import { DataType, ProtoWriter, graphProto, modelBytes, type ModelSpec, type NodeSpec, type TensorSpec } from './onnx-writer.ts';

// Load-time refusals (issue 16 items 2 and 8, issue 12's non-ONNX bytes): each of these loaded, or ran for minutes
// and gigabytes, before; each must now end at load in a GradlensError with a stable code.

const ints = (name: string, values: number[]): TensorSpec => ({ name, dims: [values.length], dataType: DataType.int64, values });

function load(spec: Partial<ModelSpec> & { nodes: NodeSpec[] }): () => unknown {
  return () => loadOnnx(modelBytes({ inputs: [{ name: 'x', dims: ['n', 4] }], outputs: [{ name: 'y' }], ...spec }));
}

const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error('loaded');
};

/**
 * About a kilobyte of model: `count` nodes each folding a [1024, 1024] tensor (2^20 elements, at the per-node cap)
 * from the one before, all from scalars and a two-element shape (issue 16: 1 KB took 30 s and 3.3 GB).
 */
function heavyChain(op: 'Expand' | 'Where', count: number): { nodes: NodeSpec[]; initializers: TensorSpec[]; last: string } {
  const nodes: NodeSpec[] = [{ op: 'Expand', inputs: ['seed', 'big'], outputs: ['t0'] }];
  for (let k = 1; k < count; k++) {
    const inputs = op === 'Expand' ? [`t${k - 1}`, 'big'] : ['condition', `t${k - 1}`, 'seed'];
    nodes.push({ op, inputs, outputs: [`t${k}`] });
  }
  const initializers: TensorSpec[] = [
    { name: 'seed', dims: [1], values: [0.5] },
    { name: 'condition', dims: [1], dataType: DataType.bool, values: [1] },
    ints('big', [1024, 1024]),
  ];
  return { nodes, initializers, last: `t${count - 1}` };
}

describe('constant folding is bounded across the whole model, not per node', () => {
  for (const op of ['Expand', 'Where'] as const) {
    it(`a chain of ${op} nodes, each under the per-node cap, ends in BAD_MODEL once the total is spent`, () => {
      const { nodes, initializers, last } = heavyChain(op, 40);
      nodes.push({ op: 'ReduceSum', inputs: [last], outputs: ['s'], attributes: { keepdims: 0 } }, { op: 'Add', inputs: ['x', 's'], outputs: ['y'] });
      expect(modelBytes({ nodes, initializers, inputs: [{ name: 'x', dims: ['n', 4] }], outputs: [{ name: 'y' }] }).length).toBeLessThan(1600);
      const error = refusal(load({ nodes, initializers }));
      expect(error).toMatchObject({ code: 'BAD_MODEL' });
      expect(error.message).toMatch(/constant parts at load took \d+ elements/);
      // Spent at the first fold past the total: the per-node cap (at each of the two batch sizes) beyond it at most.
      const spent = Number(/took (\d+) elements/.exec(error.message)![1]);
      expect(spent).toBeLessThanOrEqual(FOLD_TOTAL + 2 * FOLD_LIMIT);
    });
  }

  it('nodes nothing reads are never folded: a heavy chain off to the side does not touch the budget', () => {
    const { nodes, initializers } = heavyChain('Expand', 64);
    nodes.push({ op: 'Relu', inputs: ['x'], outputs: ['y'] });
    const graph = loadOnnx(modelBytes({ nodes, initializers, inputs: [{ name: 'x', dims: ['n', 4] }], outputs: [{ name: 'y' }] }));
    expect(graph.nodes.map((node) => node.op)).toEqual(['Relu']);
  });
});

describe('validation at load', () => {
  it('input dims no device can hold ([1, 65536, 2147483647, 65536]) are BAD_MODEL', () =>
    expect(load({ inputs: [{ name: 'x', dims: [1, 65536, 2147483647, 65536] }], nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }] })).toThrow(
      expect.objectContaining({ code: 'BAD_MODEL', message: expect.stringMatching(/2\^30/) }),
    ));

  it('a Relu whose input has an empty name is BAD_MODEL', () =>
    expect(load({ nodes: [{ op: 'Relu', inputs: [''], outputs: ['y'] }] })).toThrow(
      expect.objectContaining({ code: 'BAD_MODEL', message: expect.stringMatching(/required input 0/) }),
    ));

  it('an Add missing its second operand is BAD_MODEL', () =>
    expect(load({ nodes: [{ op: 'Add', inputs: ['x', ''], outputs: ['y'] }] })).toThrow(
      expect.objectContaining({ code: 'BAD_MODEL', message: expect.stringMatching(/required input 1/) }),
    ));

  it('a node with no output name is BAD_MODEL', () =>
    expect(
      load({
        nodes: [
          { op: 'Relu', inputs: ['x'], outputs: [''] },
          { op: 'Relu', inputs: ['x'], outputs: ['y'] },
        ],
      }),
    ).toThrow(expect.objectContaining({ code: 'BAD_MODEL', message: expect.stringMatching(/no name for its output 0/) })));

  it('opset 0 is BAD_MODEL', () =>
    expect(load({ opset: 0, nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }] })).toThrow(
      expect.objectContaining({ code: 'BAD_MODEL', message: expect.stringMatching(/opset 0/) }),
    ));

  it('a model importing no ONNX opset is BAD_MODEL', () => {
    const spec: ModelSpec = {
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
      inputs: [{ name: 'x', dims: ['n', 4] }],
      outputs: [{ name: 'y' }],
    };
    const bytes = new ProtoWriter().int(1, 8).message(7, graphProto(spec)).message(8, new ProtoWriter().string(1, 'ai.onnx.ml').int(2, 3)).finish();
    expect(() => loadOnnx(bytes)).toThrow(
      expect.objectContaining({ code: 'BAD_MODEL', message: expect.stringMatching(/imports no ONNX \(default-domain\) opset/) }),
    );
  });

  it('Softmax with axis 2^53 is BAD_MODEL', () =>
    expect(load({ nodes: [{ op: 'Softmax', inputs: ['x'], outputs: ['y'], attributes: { axis: 2 ** 53 } }] })).toThrow(
      expect.objectContaining({ code: 'BAD_MODEL', message: expect.stringMatching(/attribute axis = 9007199254740992/) }),
    ));

  it('Softmax over axis 2 of a rank-2 tensor is BAD_MODEL naming the allowed range', () =>
    expect(load({ nodes: [{ op: 'Softmax', inputs: ['x'], outputs: ['y'], attributes: { axis: 2 } }] })).toThrow(
      expect.objectContaining({
        code: 'BAD_MODEL',
        message: expect.stringMatching(/axis 2 is not a dimension of its rank-2 input \(allowed: -2 to 1\)/),
      }),
    ));

  it('an attribute of the wrong kind (axes as one integer, axis as text) is BAD_MODEL, not misread', () => {
    expect(load({ nodes: [{ op: 'ReduceMean', inputs: ['x'], outputs: ['y'], attributes: { axes: -1 } }] })).toThrow(
      expect.objectContaining({ code: 'BAD_MODEL', message: expect.stringMatching(/axes = -1 is outside the lists/) }),
    );
    expect(load({ nodes: [{ op: 'Softmax', inputs: ['x'], outputs: ['y'], attributes: { axis: 'last' } }] })).toThrow(
      expect.objectContaining({ code: 'BAD_MODEL', message: expect.stringMatching(/axis = "last" is outside the integers/) }),
    );
  });

  it('a Conv stride of 0 is BAD_MODEL', () =>
    expect(
      load({
        inputs: [{ name: 'x', dims: ['n', 1, 4, 4] }],
        initializers: [{ name: 'w', dims: [1, 1, 1, 1], values: [1] }],
        nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attributes: { strides: [0, 1] } }],
      }),
    ).toThrow(expect.objectContaining({ code: 'BAD_MODEL', message: expect.stringMatching(/strides/) })));
});

describe('bytes that are not ONNX say what they are', () => {
  const text = (s: string) => new TextEncoder().encode(s);
  it('an HTML page', () =>
    expect(() => loadOnnx(text('<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>'))).toThrow(
      expect.objectContaining({ code: 'CORRUPT_MODEL', message: expect.stringMatching(/HTML page/) }),
    ));
  it('a Git LFS pointer', () =>
    expect(() => loadOnnx(text('version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n'))).toThrow(
      expect.objectContaining({ code: 'CORRUPT_MODEL', message: expect.stringMatching(/git lfs pull/) }),
    ));
  it('a PyTorch checkpoint (a ZIP archive)', () =>
    expect(() => loadOnnx(Uint8Array.of(0x50, 0x4b, 3, 4, 0, 0))).toThrow(
      expect.objectContaining({ code: 'CORRUPT_MODEL', message: expect.stringMatching(/ZIP/) }),
    ));
  it('nothing at all', () =>
    expect(() => loadOnnx(new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'CORRUPT_MODEL', message: expect.stringMatching(/empty/) })));
});

describe('shapes a runtime op would tabulate', () => {
  // Expand, Tile and Pad run as index maps whose per-axis tables are made at load: an axis of 2^31 ran out of memory.
  it('an Expand to an axis of 2^31 − 1 is BAD_MODEL, before any table is made', () =>
    expect(
      load({
        inputs: [{ name: 'x', dims: ['n', 1] }],
        initializers: [ints('shape', [1, 2 ** 31 - 1])],
        nodes: [{ op: 'Expand', inputs: ['x', 'shape'], outputs: ['y'] }],
      }),
    ).toThrow(
      expect.objectContaining({ code: 'BAD_MODEL', message: expect.stringMatching(/Expand: output \[1, \d+\] has an axis longer than 2\^24/) }),
    ));

  it('a Tile repeating an axis 2^30 times is BAD_MODEL', () =>
    expect(
      load({
        inputs: [{ name: 'x', dims: ['n', 4] }],
        initializers: [ints('repeats', [1, 2 ** 30])],
        nodes: [{ op: 'Tile', inputs: ['x', 'repeats'], outputs: ['y'] }],
      }),
    ).toThrow(expect.objectContaining({ code: 'BAD_MODEL', message: expect.stringMatching(/Tile: output/) })));
});
