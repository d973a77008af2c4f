import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Graph } from '../../src/graph/ir.ts';
import { Model } from '../../src/graph/model.ts';
import { decodeTensor, loadOnnx } from '../../src/onnx/load.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { erf } from '../reference/activation.ts';
import { randomTensor } from '../reference/random.ts';
import { DataType, ProtoWriter, modelBytes, rawFloats, tensorProto, type ModelSpec, type NodeSpec, type TensorSpec } from './onnx-writer.ts';

// PyTorch's float32 CPU results against ours (float32, other summation orders, our own erf/exp): a few ulps per
// accumulated term on order-1 values.
const TORCH = { abs: 2e-5, rel: 1e-4 };
// Against float64 formulas written out in the test.
const EXACT = { abs: 1e-5, rel: 1e-4 };

const fixture = (file: string) => new Uint8Array(readFileSync(new URL(`./models/${file}`, import.meta.url)));

async function forward(graph: Graph, input: Float32Array, batch: number): Promise<Float32Array> {
  const model = await Model.create(await testContext(), graph);
  try {
    const plan = await model.plan({ batch, objective: 'none' });
    const { output } = await plan.run({ input });
    plan.destroy();
    return output;
  } finally {
    model.destroy();
  }
}

/** A model of `nodes` reading x (per-sample `shape`, symbolic batch) and writing y. */
function model(nodes: NodeSpec[], options: { shape?: number[]; opset?: number; initializers?: TensorSpec[]; output?: string } = {}): Uint8Array {
  const spec: ModelSpec = {
    opset: options.opset ?? 13,
    nodes,
    initializers: options.initializers ?? [],
    inputs: [{ name: 'x', dims: ['batch', ...(options.shape ?? [4])] }],
    outputs: [{ name: options.output ?? 'y' }],
  };
  return modelBytes(spec);
}

const scalar = (name: string, value: number): TensorSpec => ({ name, dims: [], values: [value] });
const ints = (name: string, values: number[]): TensorSpec => ({ name, dims: [values.length], dataType: DataType.int64, values });
const ops = (graph: Graph) => graph.nodes.map((node) => node.op);

async function expectError(load: () => unknown, code: string, message?: RegExp): Promise<void> {
  let caught: unknown;
  try {
    load();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'an error').toMatchObject({ name: 'GradlensError', code });
  if (message) expect((caught as Error).message).toMatch(message);
}

describe('decoding tensors', () => {
  const half = [0x3c00, 0xc000, 0x0001, 0x7c00, 0x3555]; // 1, −2, 2^−24, +∞, 0.333251953125

  it.each([
    ['float32, raw', { dims: [3], dataType: DataType.float, raw: rawFloats([1.5, -2, 3.25]) }, [1.5, -2, 3.25]],
    ['float32, float_data', { dims: [3], dataType: DataType.float, values: [1.5, -2, 3.25] }, [1.5, -2, 3.25]],
    ['float64, raw', { dims: [2], dataType: DataType.double, raw: new Uint8Array(Float64Array.of(0.5, -7).buffer) }, [0.5, -7]],
    ['float64, double_data', { dims: [2], dataType: DataType.double, values: [0.5, -7] }, [0.5, -7]],
    ['int32, raw', { dims: [2], dataType: DataType.int32, raw: new Uint8Array(Int32Array.of(-5, 70000).buffer) }, [-5, 70000]],
    ['int32, int32_data', { dims: [2], dataType: DataType.int32, values: [-5, 70000] }, [-5, 70000]],
    ['int64, raw', { dims: [2], dataType: DataType.int64, raw: new Uint8Array(BigInt64Array.of(-3n, 1n << 40n).buffer) }, [-3, 2 ** 40]],
    ['int64, int64_data', { dims: [2], dataType: DataType.int64, values: [-3, 2 ** 40] }, [-3, 2 ** 40]],
    ['int8, raw', { dims: [2], dataType: DataType.int8, raw: Uint8Array.of(0xff, 0x7f) }, [-1, 127]],
    ['uint8, int32_data', { dims: [2], dataType: DataType.uint8, values: [255, 3] }, [255, 3]],
    ['bool, raw', { dims: [3], dataType: DataType.bool, raw: Uint8Array.of(1, 0, 1) }, [1, 0, 1]],
    [
      'float16, raw',
      { dims: [5], dataType: DataType.float16, raw: new Uint8Array(Uint16Array.from(half).buffer) },
      [1, -2, 2 ** -24, Infinity, 0.333251953125],
    ],
    ['float16, int32_data bits', { dims: [5], dataType: DataType.float16, values: half }, [1, -2, 2 ** -24, Infinity, 0.333251953125]],
  ] as const)('%s', (_, spec, expected) => {
    const tensor = decodeTensor(tensorProto({ name: 't', ...spec }).finish());
    expect(tensor.shape).toEqual(spec.dims);
    expect(Array.from(tensor.data)).toEqual(expected.map(Math.fround));
  });

  it('a float32 initializer in raw_data is a view of the model bytes, not a copy', () => {
    // Where raw_data falls depends on what precedes it: one of four shifts of the bytes puts it on a 4-byte boundary.
    const bytes = model([{ op: 'Add', inputs: ['x', 'w'], outputs: ['y'] }], {
      initializers: [{ name: 'w', dims: [4], raw: rawFloats([1, 2, 3, 4]) }],
    });
    const copy = new Uint8Array(new ArrayBuffer(bytes.length + 4), 0, bytes.length);
    const start = [...Array(4).keys()].find((shift) => {
      const shifted = new Uint8Array(copy.buffer, shift, bytes.length);
      shifted.set(bytes);
      return loadOnnx(shifted).constants.get('w')!.data.buffer === copy.buffer;
    });
    expect(start, 'some alignment of the bytes gives a zero-copy view').toBeDefined();
  });

  it('refuses data kept in an external file with EXTERNAL_DATA, saying how to re-save the model', () =>
    expectError(
      () =>
        loadOnnx(model([{ op: 'Add', inputs: ['x', 'w'], outputs: ['y'] }], { initializers: [{ name: 'w', dims: [4], external: 'weights.bin' }] })),
      'EXTERNAL_DATA',
      /weights\.bin.*save_as_external_data=False/,
    ));

  it('refuses raw data whose length does not match the shape with CORRUPT_MODEL', () =>
    expectError(
      () =>
        loadOnnx(model([{ op: 'Add', inputs: ['x', 'w'], outputs: ['y'] }], { initializers: [{ name: 'w', dims: [4], raw: rawFloats([1, 2, 3]) }] })),
      'CORRUPT_MODEL',
    ));
});

describe('decoding the model', () => {
  const relu = () => model([{ op: 'Relu', inputs: ['x'], outputs: ['y'] }]);

  it('skips fields it does not know, of every wire type', () => {
    const unknown = new ProtoWriter().int(99, 5).tag(98, 1).raw([1, 2, 3, 4, 5, 6, 7, 8]).tag(97, 5).raw([1, 2, 3, 4]).string(96, 'later').finish();
    const bytes = new Uint8Array([...unknown, ...relu(), ...unknown]);
    expect(ops(loadOnnx(bytes))).toEqual(['Relu']);
  });

  it('refuses truncated bytes with CORRUPT_MODEL', () => {
    const bytes = relu();
    for (const length of [1, 7, bytes.length - 1])
      expect(() => loadOnnx(bytes.subarray(0, length))).toThrow(expect.objectContaining({ code: 'CORRUPT_MODEL' }));
  });

  it('refuses a known field with the wrong wire type with CORRUPT_MODEL', () =>
    expectError(() => loadOnnx(new ProtoWriter().tag(7, 0).varint(5).finish()), 'CORRUPT_MODEL', /wire type/));

  it('refuses bytes without a graph with CORRUPT_MODEL', () => expectError(() => loadOnnx(new ProtoWriter().int(1, 8).finish()), 'CORRUPT_MODEL'));
});

describe('models exported by PyTorch (test/onnx/models/make_models.py), run at batch 3', () => {
  async function matchesTorch(file: string) {
    const graph = loadOnnx(fixture(`${file}.onnx`));
    const input = decodeTensor(fixture(`${file}.input.pb`));
    const expected = decodeTensor(fixture(`${file}.output.pb`));
    expectAllClose(await forward(graph, input.data, 3), expected.data, TORCH, file);
    return graph;
  }

  it('x.view(x.size(0), -1) becomes a Reshape to [0, -1] and the CNN matches PyTorch', async () => {
    const graph = await matchesTorch('cnn_view_opset13');
    expect(ops(graph)).toEqual(['Conv', 'Relu', 'BatchNormalization', 'MaxPool', 'Reshape', 'Gemm']);
    const reshape = graph.nodes.find((node) => node.op === 'Reshape')!;
    expect(Array.from(graph.constants.get(reshape.inputs[1]!)!.data)).toEqual([0, -1]);
  });

  it('a model exported at a fixed batch of 1 (Reshape to [1, -1]) runs at batch 3', async () => {
    const graph = await matchesTorch('cnn_view_opset11');
    const reshape = graph.nodes.find((node) => node.op === 'Reshape')!;
    expect(Array.from(graph.constants.get(reshape.inputs[1]!)!.data)).toEqual([0, -1]);
  });

  it.each(['transformerish_opset11', 'transformerish_opset14', 'transformerish_opset17'])(
    '%s: GELU and LayerNorm fused, matches PyTorch',
    async (file) => {
      const graph = await matchesTorch(file);
      expect(ops(graph)).toEqual(['Gemm', 'Gelu', 'LayerNormalization', 'Gemm', 'Reshape', 'Softmax', 'Reshape']);
      const [first, second] = graph.nodes
        .filter((node) => node.op === 'Reshape')
        .map((node) => Array.from(graph.constants.get(node.inputs[1]!)!.data));
      expect([first, second]).toEqual([
        [0, 2, 4],
        [0, -1],
      ]);
    },
  );

  it('nearest 2× upsampling (Resize with scales) matches PyTorch', () => matchesTorch('upsample_opset11'));

  it('AvgPool2d(padding=1) and F.pad before a Conv: the Pads fold into the pool and the conv, which match PyTorch', async () => {
    const graph = await matchesTorch('padded_opset13');
    expect(graph.nodes.map((node) => [node.op, node.attributes.pads, node.attributes.count_include_pad])).toEqual([
      ['AveragePool', [1, 1, 1, 1], 1],
      ['Conv', [2, 1, 0, 1], undefined],
      ['Flatten', undefined, undefined],
    ]);
  });
});

describe('folding at load', () => {
  it('Constant nodes become constants, Identity chains and inference Dropout disappear', () => {
    const graph = loadOnnx(
      model([
        { op: 'Constant', inputs: [], outputs: ['c'], attributes: { value: { tensor: { dims: [4], values: [1, 2, 3, 4] } } } },
        { op: 'Identity', inputs: ['x'], outputs: ['i1'] },
        { op: 'Identity', inputs: ['i1'], outputs: ['i2'] },
        { op: 'Dropout', inputs: ['i2'], outputs: ['d', 'mask'], attributes: { ratio: { float: 0.5 } } },
        { op: 'Identity', inputs: ['c'], outputs: ['c2'] },
        { op: 'Add', inputs: ['d', 'c2'], outputs: ['y'] },
      ]),
    );
    expect(graph.nodes).toEqual([{ name: 'Add_5', op: 'Add', inputs: ['x', 'c'], outputs: ['y'], attributes: {} }]);
    expect(Array.from(graph.constants.get('c')!.data)).toEqual([1, 2, 3, 4]);
  });

  it('arithmetic on constants is computed at load (integers exactly, integer Div truncating)', () => {
    const graph = loadOnnx(
      model(
        [
          { op: 'Shape', inputs: ['x'], outputs: ['s'] },
          { op: 'Slice', inputs: ['s', 'one', 'end'], outputs: ['hw'] }, // [7, 2]
          { op: 'Mul', inputs: ['hw', 'minus'], outputs: ['neg'] }, // [-7, -2]
          { op: 'Div', inputs: ['neg', 'two'], outputs: ['half'] }, // [-3, -1]: truncated, not floored
          { op: 'Cast', inputs: ['half'], outputs: ['f'], attributes: { to: DataType.float } },
          { op: 'Add', inputs: ['x', 'f'], outputs: ['y'] },
        ],
        {
          shape: [7, 2],
          initializers: [ints('one', [1]), ints('end', [3]), ints('two', [2]), { name: 'minus', dims: [], dataType: DataType.int64, values: [-1] }],
        },
      ),
    );
    expect(ops(graph)).toEqual(['Add']);
    expect(Array.from(graph.constants.get('f')!.data)).toEqual([-3, -1]);
  });

  it('Size, Max, Min, Mod and comparisons on shape tensors are computed at load', () => {
    const graph = loadOnnx(
      model(
        [
          { op: 'Shape', inputs: ['x'], outputs: ['s'] }, // [n, 7, 2]
          { op: 'Size', inputs: ['x'], outputs: ['size'] }, // 14n
          { op: 'Gather', inputs: ['s', 'zero'], outputs: ['n'] },
          { op: 'Div', inputs: ['size', 'n'], outputs: ['per'] }, // 14
          { op: 'Max', inputs: ['per', 'three', 'two'], outputs: ['big'] }, // 14
          { op: 'Mod', inputs: ['big', 'four'], outputs: ['rest'] }, // 2
          { op: 'Min', inputs: ['rest', 'three'], outputs: ['small'] }, // 2
          { op: 'LessOrEqual', inputs: ['small', 'two'], outputs: ['yes'] }, // true
          { op: 'Where', inputs: ['yes', 'big', 'three'], outputs: ['chosen'] }, // 14
          { op: 'Unsqueeze', inputs: ['chosen', 'zeroAxis'], outputs: ['last'] },
          { op: 'Concat', inputs: ['minusOne', 'last'], outputs: ['target'], attributes: { axis: 0 } },
          { op: 'Reshape', inputs: ['x', 'target'], outputs: ['y'] },
        ],
        {
          shape: [7, 2],
          initializers: [
            { name: 'zero', dims: [], dataType: DataType.int64, values: [0] },
            { name: 'two', dims: [], dataType: DataType.int64, values: [2] },
            { name: 'three', dims: [], dataType: DataType.int64, values: [3] },
            { name: 'four', dims: [], dataType: DataType.int64, values: [4] },
            ints('zeroAxis', [0]),
            ints('minusOne', [-1]),
          ],
        },
      ),
    );
    expect(ops(graph)).toEqual(['Reshape']);
    expect(Array.from(graph.constants.get(graph.nodes[0]!.inputs[1]!)!.data)).toEqual([-1, 14]);
  });

  it('a batch-dependent value that reaches an op other than a Reshape target or Resize sizes is refused', () =>
    expectError(
      () =>
        loadOnnx(
          model([
            { op: 'Shape', inputs: ['x'], outputs: ['s'] },
            { op: 'Cast', inputs: ['s'], outputs: ['f'], attributes: { to: DataType.float } },
            { op: 'Mul', inputs: ['x', 'f'], outputs: ['y'] },
          ]),
        ),
      'UNSUPPORTED_OP',
      /Mul "Mul_2": input "f" depends on the batch size/,
    ));

  it('a Pad of zeros everywhere is the identity, in both the attribute (opset 2) and the input (opset 11) form', () => {
    const early = loadOnnx(
      model(
        [
          { op: 'Pad', inputs: ['x'], outputs: ['p'], attributes: { pads: [0, 0, 0, 0] } },
          { op: 'Relu', inputs: ['p'], outputs: ['y'] },
        ],
        { opset: 10 },
      ),
    );
    const late = loadOnnx(
      model(
        [
          { op: 'Pad', inputs: ['x', 'pads', ''], outputs: ['p'] },
          { op: 'Relu', inputs: ['p'], outputs: ['y'] },
        ],
        { initializers: [ints('pads', [0, 0, 0, 0])] },
      ),
    );
    expect([ops(early), ops(late)]).toEqual([['Relu'], ['Relu']]);
  });

  it('a Pad that no Conv or pool can take stays a Pad, in the one form of every opset', () => {
    const graph = loadOnnx(
      model([{ op: 'Pad', inputs: ['x', 'pads'], outputs: ['y'], attributes: { mode: 'reflect' } }], {
        shape: [1, 3, 3],
        initializers: [ints('pads', [0, 0, 1, 1, 0, 0, 1, 1])],
      }),
    );
    expect(graph.nodes.map((node) => [node.op, node.attributes])).toEqual([['Pad', { mode: 'reflect', pads: [0, 0, 1, 1, 0, 0, 1, 1], value: 0 }]]);
  });

  it('Resize sizes computed from the input shape keep their spatial part and work at any batch', async () => {
    const bytes = model(
      [
        { op: 'Shape', inputs: ['x'], outputs: ['s'] },
        { op: 'Slice', inputs: ['s', 'zero', 'two'], outputs: ['nc'] },
        { op: 'Concat', inputs: ['nc', 'hw'], outputs: ['sizes'], attributes: { axis: 0 } },
        {
          op: 'Resize',
          inputs: ['x', '', '', 'sizes'],
          outputs: ['y'],
          attributes: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
        },
      ],
      { shape: [1, 1, 2], initializers: [ints('zero', [0]), ints('two', [2]), ints('hw', [2, 4])] },
    );
    const graph = loadOnnx(bytes);
    expect(ops(graph)).toEqual(['Resize']);
    const input = Float32Array.of(1, 2, 3, 4);
    // Nearest, asymmetric, floor: each value twice across, each row twice down.
    expect(Array.from(await forward(graph, input, 2))).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  });
});

describe('opset forms', () => {
  // Per sample [3]: Unsqueeze to [1, 3], Clip to [-0.5, 0.5], ReduceMean over the new axis (keepdims), Squeeze it back.
  const clip = (opset: number): Uint8Array => {
    const early = opset < 13;
    const nodes: NodeSpec[] = [
      { op: 'Unsqueeze', inputs: early ? ['x'] : ['x', 'axis1'], outputs: ['u'], attributes: early ? { axes: [1] } : {} },
      { op: 'Clip', inputs: ['u', 'low', 'high'], outputs: ['c'] },
      {
        op: 'ReduceMean',
        inputs: opset >= 18 ? ['c', 'axis1'] : ['c'],
        outputs: ['m'],
        attributes: opset >= 18 ? { keepdims: 1 } : { axes: [1], keepdims: 1 },
      },
      { op: 'Squeeze', inputs: early ? ['m'] : ['m', 'axis1'], outputs: ['y'], attributes: early ? { axes: [1] } : {} },
    ];
    return model(nodes, { opset, shape: [3], initializers: [ints('axis1', [1]), scalar('low', -0.5), scalar('high', 0.5)] });
  };

  it.each([11, 13, 18])('opset %i: axes as attributes or inputs give the same graph and values', async (opset) => {
    const graph = loadOnnx(clip(opset));
    expect(ops(graph)).toEqual(['Unsqueeze', 'Clip', 'ReduceMean', 'Squeeze']);
    expect(graph.nodes.map((node) => node.attributes.axes)).toEqual([[1], undefined, [1], [1]]);
    const input = Float32Array.of(-2, 0.25, 3, 0.1, -0.3, 0.7);
    expect(Array.from(await forward(graph, input, 2))).toEqual(Array.from(input, (v) => Math.fround(Math.min(0.5, Math.max(-0.5, v)))));
  });

  it('Softmax before opset 13 normalises over everything from the axis on (flattened to 2-D)', async () => {
    const graph = loadOnnx(model([{ op: 'Softmax', inputs: ['x'], outputs: ['y'], attributes: { axis: 1 } }], { opset: 11, shape: [2, 3] }));
    expect(ops(graph)).toEqual(['Flatten', 'Softmax', 'Reshape']);
    const input = randomTensor(2 * 6, 5, 2);
    const expected = [0, 1].flatMap((b) => {
      const row = Array.from(input.subarray(6 * b, 6 * b + 6));
      const sum = row.reduce((s, v) => s + Math.exp(v), 0);
      return row.map((v) => Math.exp(v) / sum);
    });
    expectAllClose(await forward(graph, input, 2), expected, EXACT, 'softmax over 6');
  });

  it('Softmax before opset 13 over the last axis is today’s Softmax(axis = −1)', () => {
    const graph = loadOnnx(model([{ op: 'LogSoftmax', inputs: ['x'], outputs: ['y'], attributes: { axis: 2 } }], { opset: 11, shape: [2, 3] }));
    expect(graph.nodes.map((node) => [node.op, node.attributes.axis])).toEqual([['LogSoftmax', -1]]);
  });

  it('Resize of opset 10 (X, scales) reads its scales', () => {
    const graph = loadOnnx(
      model([{ op: 'Resize', inputs: ['x', 'scales'], outputs: ['y'] }], {
        opset: 10,
        shape: [1, 2, 2],
        initializers: [{ name: 'scales', dims: [4], values: [1, 1, 2, 2] }],
      }),
    );
    expect(graph.nodes[0]!.inputs).toEqual(['x', '', 'scales']);
  });

  it('refuses opsets newer than 18, saying which to export', () =>
    expectError(() => loadOnnx(model([{ op: 'Relu', inputs: ['x'], outputs: ['y'] }], { opset: 19 })), 'UNSUPPORTED_OP', /opset_version=18/));
});

describe('patterns', () => {
  const sqrt2 = Math.SQRT2;
  // The three factors x, ½ and (1 + erf(x/√2)) in the groupings exporters use.
  const gelu = (variant: 'torch' | 'half-first' | 'half-last-inner' | 'reciprocal'): NodeSpec[] => {
    const scaled: NodeSpec =
      variant === 'reciprocal' ? { op: 'Mul', inputs: ['inv_sqrt2', 'x'], outputs: ['s'] } : { op: 'Div', inputs: ['x', 'sqrt2'], outputs: ['s'] };
    const head: NodeSpec[] = [scaled, { op: 'Erf', inputs: ['s'], outputs: ['e'] }, { op: 'Add', inputs: ['one', 'e'], outputs: ['p'] }];
    if (variant === 'half-first')
      return [...head, { op: 'Mul', inputs: ['half', 'x'], outputs: ['hx'] }, { op: 'Mul', inputs: ['hx', 'p'], outputs: ['y'] }];
    if (variant === 'half-last-inner')
      return [...head, { op: 'Mul', inputs: ['p', 'half'], outputs: ['ph'] }, { op: 'Mul', inputs: ['x', 'ph'], outputs: ['y'] }];
    return [...head, { op: 'Mul', inputs: ['x', 'p'], outputs: ['xp'] }, { op: 'Mul', inputs: ['xp', 'half'], outputs: ['y'] }];
  };
  const constants = [scalar('sqrt2', sqrt2), scalar('inv_sqrt2', Math.SQRT1_2), scalar('one', 1), scalar('half', 0.5)];

  it.each(['torch', 'half-first', 'half-last-inner', 'reciprocal'] as const)('x·½·(1 + erf(x/√2)), %s, becomes Gelu', (variant) => {
    const graph = loadOnnx(model(gelu(variant), { initializers: constants }));
    expect(graph.nodes.map((node) => [node.op, node.inputs, node.outputs])).toEqual([['Gelu', ['x'], ['y']]]);
    expect(graph.constants.size).toBe(0);
  });

  it('a chain of 2 000 GELU subgraphs (10 000 nodes) becomes 2 000 Gelu nodes in order: each match updates the index', () => {
    const nodes: NodeSpec[] = [];
    for (let k = 0; k < 2000; k++) {
      const rename = (name: string) =>
        name === 'x'
          ? k
            ? `g${k - 1}`
            : 'x'
          : name === 'y'
            ? k === 1999
              ? 'y'
              : `g${k}`
            : constants.some((c) => c.name === name)
              ? name
              : `${name}${k}`;
      nodes.push(...gelu('torch').map((node) => ({ ...node, inputs: node.inputs.map(rename), outputs: node.outputs.map(rename) })));
    }
    const graph = loadOnnx(model(nodes, { initializers: constants }));
    expect(graph.nodes.map((node) => node.op)).toEqual(new Array(2000).fill('Gelu'));
    expect(graph.nodes.map((node) => node.inputs[0])).toEqual(['x', ...Array.from({ length: 1999 }, (_, k) => `g${k}`)]);
  });

  it('the fused Gelu computes x·Φ(x)', async () => {
    const input = randomTensor(8, 3, 3);
    const expected = Array.from(input, (v) => v * 0.5 * (1 + erf(v / Math.SQRT2)));
    expectAllClose(await forward(loadOnnx(model(gelu('torch'), { initializers: constants })), input, 2), expected, EXACT, 'gelu');
  });

  it('a GELU-like subgraph whose intermediate is read elsewhere is left alone', () => {
    const nodes = [
      ...gelu('torch').map((n) => (n.outputs[0] === 'y' ? { ...n, outputs: ['g'] } : n)),
      { op: 'Add', inputs: ['g', 'e'], outputs: ['y'] },
    ];
    expect(ops(loadOnnx(model(nodes, { initializers: constants })))).toContain('Erf');
  });

  // 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))): torch's GELU(approximate='tanh') export, and HF's NewGELU (Pow, ½x first).
  const tanhGelu = (variant: 'torch' | 'pow'): NodeSpec[] => [
    ...(variant === 'torch'
      ? [
          { op: 'Mul', inputs: ['x', 'x'], outputs: ['x2'] },
          { op: 'Mul', inputs: ['x', 'x2'], outputs: ['x3'] },
        ]
      : [{ op: 'Pow', inputs: ['x', 'three'], outputs: ['x3'] }]),
    { op: 'Mul', inputs: ['c', 'x3'], outputs: ['cx3'] },
    { op: 'Add', inputs: ['x', 'cx3'], outputs: ['inner'] },
    { op: 'Mul', inputs: ['k', 'inner'], outputs: ['u'] },
    { op: 'Tanh', inputs: ['u'], outputs: ['t'] },
    { op: 'Add', inputs: ['one', 't'], outputs: ['p'] },
    ...(variant === 'torch'
      ? [
          { op: 'Mul', inputs: ['x', 'p'], outputs: ['xp'] },
          { op: 'Mul', inputs: ['half', 'xp'], outputs: ['y'] },
        ]
      : [
          { op: 'Mul', inputs: ['half', 'x'], outputs: ['hx'] },
          { op: 'Mul', inputs: ['hx', 'p'], outputs: ['y'] },
        ]),
  ];
  const tanhConstants = [scalar('c', 0.044715), scalar('k', Math.sqrt(2 / Math.PI)), scalar('three', 3), scalar('one', 1), scalar('half', 0.5)];

  it.each(['torch', 'pow'] as const)(
    "0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))), %s, becomes Gelu(approximate='tanh') and computes it",
    async (variant) => {
      const graph = loadOnnx(model(tanhGelu(variant), { initializers: tanhConstants }));
      expect(graph.nodes.map((node) => [node.op, node.inputs, node.outputs, node.attributes])).toEqual([
        ['Gelu', ['x'], ['y'], { approximate: 'tanh' }],
      ]);
      const input = randomTensor(8, 5, 3);
      const expected = Array.from(input, (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
      expectAllClose(await forward(graph, input, 2), expected, EXACT, 'tanh gelu');
    },
  );

  it('a tanh-GELU-like subgraph with another cube coefficient is left alone', () => {
    const constants = tanhConstants.map((c) => (c.name === 'c' ? scalar('c', 0.05) : c));
    expect(ops(loadOnnx(model(tanhGelu('torch'), { initializers: constants })))).toContain('Tanh');
  });

  const layerNorm = (affine: boolean): NodeSpec[] => [
    { op: 'ReduceMean', inputs: ['x'], outputs: ['mean'], attributes: { axes: [-1] } },
    { op: 'Sub', inputs: ['x', 'mean'], outputs: ['d'] },
    { op: 'Pow', inputs: ['d', 'two'], outputs: ['d2'] },
    { op: 'ReduceMean', inputs: ['d2'], outputs: ['var'], attributes: { axes: [-1] } },
    { op: 'Add', inputs: ['var', 'eps'], outputs: ['ve'] },
    { op: 'Sqrt', inputs: ['ve'], outputs: ['std'] },
    { op: 'Div', inputs: ['d', 'std'], outputs: affine ? ['n'] : ['y'] },
    ...(affine
      ? [
          { op: 'Mul', inputs: ['n', 'gamma'], outputs: ['ng'] },
          { op: 'Add', inputs: ['ng', 'beta'], outputs: ['y'] },
        ]
      : []),
  ];
  const lnConstants = [
    scalar('two', 2),
    scalar('eps', 1e-5),
    { name: 'gamma', dims: [4], values: [1, 2, 0.5, -1] },
    { name: 'beta', dims: [4], values: [0, 0.1, -0.2, 0.3] },
  ];

  it('ReduceMean, Sub, Pow 2, ReduceMean, Add ε, Sqrt, Div, Mul γ, Add β becomes LayerNormalization', async () => {
    const graph = loadOnnx(model(layerNorm(true), { shape: [3, 4], initializers: lnConstants }));
    expect(graph.nodes.map((node) => [node.op, node.inputs, node.attributes])).toEqual([
      ['LayerNormalization', ['x', 'gamma', 'beta'], { axis: -1, epsilon: Math.fround(1e-5) }],
    ]);
    const input = randomTensor(2 * 12, 9, 2);
    const expected = Array.from({ length: 6 }, (_, row) => {
      const v = Array.from(input.subarray(4 * row, 4 * row + 4));
      const mean = v.reduce((a, b) => a + b) / 4;
      const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / 4;
      return v.map((x, i) => ((x - mean) / Math.sqrt(variance + 1e-5)) * [1, 2, 0.5, -1][i]! + [0, 0.1, -0.2, 0.3][i]!);
    }).flat();
    expectAllClose(await forward(graph, input, 2), expected, EXACT, 'layer norm');
  });

  it('without γ and β it becomes LayerNormalization with a unit scale', () => {
    const graph = loadOnnx(model(layerNorm(false), { shape: [3, 4], initializers: lnConstants }));
    expect(ops(graph)).toEqual(['LayerNormalization']);
    expect(Array.from(graph.constants.get(graph.nodes[0]!.inputs[1]!)!.data)).toEqual([1, 1, 1, 1]);
  });
});

describe('errors', () => {
  it('a node input that is neither produced, an initializer nor the input: MISSING_INITIALIZER naming it', () =>
    expectError(
      () => loadOnnx(model([{ op: 'Conv', inputs: ['x', 'conv.weight'], outputs: ['y'], name: 'conv' }], { shape: [1, 4, 4] })),
      'MISSING_INITIALIZER',
      /"conv.weight" \(read by Conv "conv"\)/,
    ));

  it('unsupported ops: one UNSUPPORTED_OP listing every type with its count and one example node, not every name', async () => {
    const nodes: NodeSpec[] = [];
    for (let k = 0; k < 50; k++) {
      nodes.push({ op: 'Det', inputs: ['x'], outputs: [`d${k}`], name: `det${k}` });
      if (k > 0) nodes.push({ op: 'Add', inputs: [k > 1 ? `s${k - 1}` : 'd0', `d${k}`], outputs: [`s${k}`] });
    }
    nodes.push(
      { op: 'FusedThing', domain: 'com.vendor', inputs: ['x'], outputs: ['f'], name: 'f' },
      { op: 'Add', inputs: ['s49', 'f'], outputs: ['y'] },
    );
    await expectError(
      () => loadOnnx(model(nodes)),
      'UNSUPPORTED_OP',
      /unsupported ops: Det ×50 \(e\.g\. "det0"\); com\.vendor\.FusedThing ×1 \(e\.g\. "f"\)\. Supported: .*Relu/,
    );
    await expectError(() => loadOnnx(model(nodes)), 'UNSUPPORTED_OP', /^(?!.*det49)/s);
  });

  it('unsupported ops after an unsupported one are counted apart: their shapes were never known', () =>
    expectError(
      () =>
        loadOnnx(
          model([
            { op: 'Det', inputs: ['x'], outputs: ['d'], name: 'det' },
            { op: 'Shape', inputs: ['d'], outputs: ['s'] },
            { op: 'Reshape', inputs: ['x', 's'], outputs: ['y'] },
          ]),
        ),
      'UNSUPPORTED_OP',
      /unsupported ops: Det ×1 \(e\.g\. "det"\)\. After them, 1 nodes whose input shapes they decide could not be checked \(Shape\)\./,
    ));

  it('a second input: BAD_MODEL saying to bind it; bound with options.constants it loads', () => {
    const bytes = modelBytes({
      nodes: [{ op: 'Mul', inputs: ['x', 'mask'], outputs: ['y'] }],
      inputs: [
        { name: 'x', dims: ['n', 4] },
        { name: 'mask', dims: [4] },
      ],
      outputs: [{ name: 'y' }],
    });
    expect(() => loadOnnx(bytes)).toThrow(expect.objectContaining({ code: 'BAD_MODEL', message: expect.stringMatching(/options|constants/) }));
    const graph = loadOnnx(bytes, { constants: { mask: { shape: [4], data: Float32Array.of(1, 0, 1, 0) } } });
    expect(Array.from(graph.constants.get('mask')!.data)).toEqual([1, 0, 1, 0]);
  });

  it('several outputs: BAD_MODEL unless options.output chooses one', () => {
    const bytes = modelBytes({
      nodes: [
        { op: 'Relu', inputs: ['x'], outputs: ['a'] },
        { op: 'Sigmoid', inputs: ['x'], outputs: ['b'] },
      ],
      inputs: [{ name: 'x', dims: [1, 4] }],
      outputs: [{ name: 'a' }, { name: 'b' }],
    });
    expect(() => loadOnnx(bytes)).toThrow(expect.objectContaining({ code: 'BAD_MODEL' }));
    expect(ops(loadOnnx(bytes, { output: 'b' }))).toEqual(['Sigmoid']);
  });

  it('Dropout in training mode: UNSUPPORTED_OP', () =>
    expectError(
      () =>
        loadOnnx(
          model([{ op: 'Dropout', inputs: ['x', 'ratio', 'training'], outputs: ['y'] }], {
            initializers: [scalar('ratio', 0.5), { name: 'training', dims: [], dataType: DataType.bool, values: [1] }],
          }),
        ),
      'UNSUPPORTED_OP',
      /training mode/,
    ));

  it('nodes out of order are sorted; a cycle is BAD_MODEL', () => {
    const sorted = loadOnnx(
      model([
        { op: 'Sigmoid', inputs: ['a'], outputs: ['y'] },
        { op: 'Relu', inputs: ['x'], outputs: ['a'] },
      ]),
    );
    expect(ops(sorted)).toEqual(['Relu', 'Sigmoid']);
    expect(() =>
      loadOnnx(
        model([
          { op: 'Relu', inputs: ['b'], outputs: ['a'] },
          { op: 'Relu', inputs: ['a'], outputs: ['b'] },
          { op: 'Relu', inputs: ['x'], outputs: ['y'] },
        ]),
      ),
    ).toThrow(expect.objectContaining({ code: 'BAD_MODEL' }));
  });

  it('a loaded model refuses a wrong input size (BAD_INPUT) and NaN (NAN_INPUT) at run time', async () => {
    const graph = loadOnnx(fixture('cnn_view_opset13.onnx'));
    const model = await Model.create(await testContext(), graph);
    const plan = await model.plan({ batch: 2, objective: 'none' });
    await expect(plan.run({ input: new Float32Array(2 * 72 - 1) })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    const input = randomTensor(2 * 72, 4);
    input[17] = Number.NaN;
    await expect(plan.run({ input })).rejects.toMatchObject({ code: 'NAN_INPUT' });
    plan.destroy();
    model.destroy();
  });
});

describe('transformer exports (issue 13: ViT, Swin)', () => {
  it("a class token Expand-ed to the batch and concatenated to the tokens holds at every batch (ViT's Concat)", async () => {
    const token = [0.5, -1, 2, 0.25];
    const graph = loadOnnx(
      model(
        [
          { op: 'Shape', inputs: ['x'], outputs: ['shape'] },
          { op: 'Gather', inputs: ['shape', 'zero'], outputs: ['batch'], attributes: { axis: 0 } },
          { op: 'Unsqueeze', inputs: ['batch', 'axes0'], outputs: ['b1'] },
          { op: 'Concat', inputs: ['b1', 'rest'], outputs: ['target'], attributes: { axis: 0 } },
          { op: 'Expand', inputs: ['token', 'target'], outputs: ['tokens'] },
          { op: 'Concat', inputs: ['tokens', 'x'], outputs: ['y'], attributes: { axis: 1 } },
        ],
        {
          shape: [3, 4],
          initializers: [
            { name: 'token', dims: [1, 1, 4], values: token },
            { name: 'zero', dims: [], dataType: DataType.int64, values: [0] },
            ints('axes0', [0]),
            ints('rest', [1, 4]),
          ],
        },
      ),
    );
    expect(ops(graph)).toEqual(['Pad', 'Add']);
    const input = randomTensor(3 * 12, 6);
    const expected = Array.from({ length: 3 }, (_, b) => [...token, ...input.subarray(12 * b, 12 * b + 12)]).flat();
    expectAllClose(await forward(graph, input, 3), expected, { abs: 0, rel: 0 }, 'class token and tokens');
  });

  it('a repeated sample between two batch tensors: each run padded into place, the sample added once', async () => {
    const token = [7, -3];
    const graph = loadOnnx(
      model(
        [
          { op: 'Shape', inputs: ['x'], outputs: ['shape'] },
          { op: 'Slice', inputs: ['shape', 'zero', 'one'], outputs: ['batch'] },
          { op: 'Concat', inputs: ['batch', 'rest'], outputs: ['target'], attributes: { axis: 0 } },
          { op: 'Expand', inputs: ['token', 'target'], outputs: ['tokens'] },
          { op: 'Concat', inputs: ['x', 'tokens', 'x', 'x'], outputs: ['y'], attributes: { axis: -2 } },
        ],
        {
          shape: [3, 2],
          initializers: [{ name: 'token', dims: [1, 1, 2], values: token }, ints('zero', [0]), ints('one', [1]), ints('rest', [1, 2])],
        },
      ),
    );
    expect(ops(graph)).toEqual(['Pad', 'Add', 'Concat', 'Pad', 'Add']);
    const input = randomTensor(2 * 6, 8);
    const expected = Array.from({ length: 2 }, (_, b) => {
      const x = Array.from(input.subarray(6 * b, 6 * b + 6));
      return [...x, ...token, ...x, ...x];
    }).flat();
    expectAllClose(await forward(graph, input, 2), expected, { abs: 0, rel: 0 }, 'x, token, x, x');
  });

  it("a Gather along axis 0 where axis 0 does not carry the batch loads (Swin's q, k, v after a Transpose)", async () => {
    const graph = loadOnnx(
      model(
        [
          { op: 'Transpose', inputs: ['x'], outputs: ['t'], attributes: { perm: [1, 0, 2] } },
          { op: 'Gather', inputs: ['t', 'one'], outputs: ['y'], attributes: { axis: 0 } },
        ],
        { shape: [3, 4], initializers: [{ name: 'one', dims: [], dataType: DataType.int64, values: [1] }] },
      ),
    );
    const input = randomTensor(2 * 12, 7);
    const expected = [...input.subarray(4, 8), ...input.subarray(16, 20)];
    expectAllClose(await forward(graph, input, 2), expected, { abs: 0, rel: 0 }, 'x[:, 1]');
  });

  it('a Gather along the axis that carries the batch is refused: it would mix samples', () =>
    expectError(
      () =>
        loadOnnx(
          modelBytes({
            nodes: [{ op: 'Gather', inputs: ['x', 'one'], outputs: ['y'], attributes: { axis: 0 } }],
            initializers: [ints('one', [1])],
            inputs: [{ name: 'x', dims: [2, 3, 4] }],
            outputs: [{ name: 'y' }],
          }),
        ),
      'UNSUPPORTED_OP',
      /moves elements along the batch axis \(axis 0\)/,
    ));

  // ONNX's ScatterND examples: rows [1, 0] of [[1, 2], [3, 4]] replaced by (or reduced with) [[10, 20], [30, 40]].
  it.each([
    ['none', [30, 40, 10, 20]],
    ['add', [31, 42, 13, 24]],
    ['mul', [30, 80, 30, 80]],
    ['max', [30, 40, 10, 20]],
    ['min', [1, 2, 3, 4]],
  ] as const)("ScatterND (reduction %s) on constants folds at load (Swin's shifted-window attention mask)", (reduction, expected) => {
    const graph = loadOnnx(
      model(
        [
          { op: 'ScatterND', inputs: ['data', 'where', 'values'], outputs: ['mask'], attributes: { reduction } },
          { op: 'Add', inputs: ['x', 'mask'], outputs: ['y'] },
        ],
        {
          opset: 18,
          shape: [2, 2],
          initializers: [
            { name: 'data', dims: [2, 2], values: [1, 2, 3, 4] },
            { name: 'where', dims: [2, 1], dataType: DataType.int64, values: [1, 0] },
            { name: 'values', dims: [2, 2], values: [10, 20, 30, 40] },
          ],
        },
      ),
    );
    expect(ops(graph)).toEqual(['Add']);
    expect(Array.from(graph.constants.get(graph.nodes[0]!.inputs[1]!)!.data)).toEqual(expected);
  });
});
