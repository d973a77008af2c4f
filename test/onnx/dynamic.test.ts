import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { Model } from '../../src/graph/model.ts';
import { smallCnn } from '../../src/graph/models.ts';
import { loadOnnx } from '../../src/onnx/load.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { referenceForward, referenceGradients } from '../reference/graph.ts';
import { randomTensor } from '../reference/random.ts';
import { DataType, modelBytes, type TensorSpec } from './onnx-writer.ts';

// Issue 13, shapes from the input: PyTorch exports with dynamic_axes (test/onnx/models/make_dynamic.py) are
// specialised per input size when planned (Model.at), their shape sub-graphs folded for that size, and must match
// onnxruntime at every size. Float32 both sides, other sum orders: 1e-4 of the largest logit.

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`./models/${name}.onnx`, import.meta.url)));
const BATCH = 2;

async function onnxruntime(bytes: Uint8Array, input: Float32Array, shape: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const outputs = await session.run({ x: new ort.Tensor('float32', input, shape) });
    return outputs.y!.data as Float32Array;
  } finally {
    await session.release();
  }
}

async function expectMatchesOnnxruntime(model: Model, bytes: Uint8Array, perSample: number[], seed: number): Promise<void> {
  const specialised = await model.at(perSample);
  expect(specialised.graph.inputShape).toEqual(perSample);
  const input = randomTensor(BATCH * perSample.reduce((a, b) => a * b, 1), seed);
  const plan = await specialised.cachedPlan({ batch: BATCH, objective: 'none' });
  const { output } = await plan.run({ input });
  const expected = await onnxruntime(bytes, input, [BATCH, ...perSample]);
  const peak = Math.max(...Array.from(expected, Math.abs));
  expectAllClose(output, expected, { abs: 1e-4 * peak, rel: 0 }, `[${perSample}]`);
}

const models: Model[] = [];
afterAll(() => models.forEach((model) => model.destroy()));
async function modelOf(bytes: Uint8Array): Promise<Model> {
  const model = await Model.create(await testContext(), loadOnnx(bytes));
  models.push(model);
  return model;
}

for (const opset of [13, 17]) {
  describe(`a fully convolutional model with free height and width (opset ${opset})`, () => {
    const bytes = fixture(`dynamic_convnet_opset${opset}`);

    it('loads, saying which input axes are free', () => {
      const graph = loadOnnx(bytes);
      expect(graph.freeAxes).toEqual([1, 2]);
      expect(graph.inputShape).toEqual([3, 224, 224]);
    });

    for (const [height, width] of [
      [20, 24],
      [33, 17],
      [64, 8],
      [8, 64],
    ] as const) {
      it(`matches onnxruntime on ${height}×${width} images`, async () =>
        expectMatchesOnnxruntime(await modelOf(bytes), bytes, [3, height, width], height * width));
    }

    it('folds its shape sub-graph per size: no Shape, Gather or Concat reaches the runtime', () => {
      const graph = loadOnnx(bytes, { inputShape: [3, 20, 24] });
      expect(graph.nodes.map((node) => node.op).filter((op) => ['Shape', 'Gather', 'Concat', 'Unsqueeze', 'Cast'].includes(op))).toEqual([]);
      const resize = graph.nodes.find((node) => node.op === 'Resize')!;
      const sizes = graph.constants.get(resize.inputs[3]!)!;
      expect([...sizes.data].slice(1)).toEqual([8, 20, 24]);
      const other = graph.specialise!([3, 36, 12]);
      const resized = other.nodes.find((node) => node.op === 'Resize')!;
      expect([...other.constants.get(resized.inputs[3]!)!.data].slice(1)).toEqual([8, 36, 12]);
    });

    it('the input gradient at another size matches the float64 interpreter on the specialised graph', async () => {
      const specialised = await (await modelOf(bytes)).at([3, 33, 17]);
      const input = randomTensor(3 * 33 * 17, 9);
      const plan = await specialised.cachedPlan({ batch: 1, objective: 'logit' });
      const { output, inputGradient, target } = await plan.run({ input, target: 'top1' });
      const graph = loadOnnx(bytes, { inputShape: [3, 33, 17] });
      const values = referenceForward(graph, input, 1);
      const seed = new Float64Array(output.length);
      seed[target![0]!] = 1;
      const expected = referenceGradients(graph, values, seed, 1).get(graph.input)!;
      const peak = Math.max(...Array.from(expected, Math.abs));
      expectAllClose(inputGradient!, expected, { abs: 1e-4 * peak, rel: 0 }, 'input gradient');
    });

    it('keeps a specialisation once made (the same model, the same plans)', async () => {
      const model = await modelOf(bytes);
      const first = await model.at([3, 16, 16]);
      expect(await model.at([3, 16, 16])).toBe(first);
      expect(await model.at(model.graph.inputShape)).toBe(model);
    });
  });

  describe(`a self-attention block over sequences of any length (opset ${opset})`, () => {
    const bytes = fixture(`dynamic_attention_opset${opset}`);
    for (const length of [7, 1, 19, 50]) {
      it(`matches onnxruntime on ${length} tokens`, async () => expectMatchesOnnxruntime(await modelOf(bytes), bytes, [length, 16], length));
    }
  });
}

describe('graphs without a source to specialise from', () => {
  it('a graph built in TypeScript takes its one input shape; another is BAD_INPUT', async () => {
    const model = await Model.create(await testContext(), smallCnn());
    models.push(model);
    expect(await model.at([1, 16, 16])).toBe(model);
    await expect(model.at([1, 20, 20])).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/takes inputs of \[1, 16, 16\] only/),
    });
  });
});

describe('a model that really needs one size', () => {
  const bytes = fixture('needs-size/fixed_head_opset13');

  it('loads at the size given, and matches onnxruntime there', async () => {
    const model = await Model.create(await testContext(), loadOnnx(bytes, { inputShape: [3, 8, 8] }));
    models.push(model);
    await expectMatchesOnnxruntime(model, bytes, [3, 8, 8], 5);
  });

  it('without a size, BAD_MODEL saying to give the one it needs', () =>
    expect(() => loadOnnx(bytes)).toThrow(
      expect.objectContaining({ code: 'BAD_MODEL', message: expect.stringMatching(/Gemm.*give the size the model needs/s) }),
    ));

  it('at another size, BAD_INPUT naming the size it takes', async () => {
    const model = await Model.create(await testContext(), loadOnnx(bytes, { inputShape: [3, 8, 8] }));
    models.push(model);
    await expect(model.at([3, 9, 8])).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/cannot take an input of \[3, 9, 8\].*it loaded at \[3, 8, 8\]/),
    });
  });

  it('a size of another rank, or one that changes a fixed dimension, is BAD_INPUT', () => {
    const graph = loadOnnx(bytes, { inputShape: [3, 8, 8] });
    expect(() => graph.specialise!([3, 8])).toThrow(expect.objectContaining({ code: 'BAD_INPUT', message: expect.stringMatching(/rank 2/) }));
    expect(() => graph.specialise!([4, 8, 8])).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT', message: expect.stringMatching(/fixes the input at \[3, \?, \?\]/) }),
    );
  });
});

describe('moves along an axis a transpose put in front of the batch (attention q, k, v as Paddle exports them)', () => {
  // x [n, 4, 6] → [n, 4, 3, 2] → Transpose → [3, n, 4, 2]: slicing axis 0 picks q, k or v for every sample.
  const ints = (name: string, values: number[]): TensorSpec => ({ name, dims: [values.length], dataType: DataType.int64, values });
  const split = (sliced: number) =>
    modelBytes({
      inputs: [{ name: 'x', dims: ['n', 4, 6] }],
      outputs: [{ name: 'y' }],
      initializers: [ints('shape', [0, 4, 3, 2]), ints('starts', [1]), ints('ends', [2]), ints('axes', [sliced])],
      nodes: [
        { op: 'Reshape', inputs: ['x', 'shape'], outputs: ['heads'] },
        { op: 'Transpose', inputs: ['heads'], outputs: ['qkv'], attributes: { perm: [2, 0, 1, 3] } },
        { op: 'Slice', inputs: ['qkv', 'starts', 'ends', 'axes'], outputs: ['k'] },
        { op: 'Squeeze', inputs: ['k', 'axes'], outputs: ['y'] },
      ],
    });

  it('slices axis 0 of [3, batch, …] for every sample, as onnxruntime does', async () => {
    const bytes = split(0);
    const model = await modelOf(bytes);
    const input = randomTensor(BATCH * 24, 3);
    const { output } = await (await model.cachedPlan({ batch: BATCH, objective: 'none' })).run({ input });
    expectAllClose(output, await onnxruntime(bytes, input, [BATCH, 4, 6]), { abs: 0, rel: 0 }, 'k');
  });

  it('still refuses a slice along the batch axis where the transpose put it, naming that axis', () =>
    expect(() => loadOnnx(split(1))).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_OP', message: expect.stringMatching(/moves elements along the batch axis \(axis 1\)/) }),
    ));
});
