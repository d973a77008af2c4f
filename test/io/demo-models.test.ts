import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { Graph } from '../../src/graph/ir.ts';
import { Model } from '../../src/graph/model.ts';
import { loadImage } from '../../src/node/image.ts';
import { loadOnnx } from '../../src/onnx/load.ts';
import { expectAllClose } from '../helpers/close.ts';
import { testContext } from '../helpers/gpu.ts';
import { referenceForward } from '../reference/graph.ts';

// The models and samples are written by models/train_demo.py; its README records how many samples PyTorch gets right.

async function load(file: string): Promise<Graph> {
  return loadOnnx(new Uint8Array(await readFile(file)));
}

/** "PyTorch classifies N of M correctly" in the model's section of models/README.md. */
async function recordedSampleCount(model: string): Promise<{ right: number; of: number }> {
  const readme = await readFile('models/README.md', 'utf8');
  const section = readme.slice(readme.indexOf(`## ${model}`));
  const match = /PyTorch classifies\s+(\d+) of (\d+) correctly/.exec(section);
  if (!match) throw new Error(`models/README.md: no recorded sample count for ${model}`);
  return { right: Number(match[1]), of: Number(match[2]) };
}

/** Minimal CSV (no quoting: the sample files have none): header and numeric rows. */
function parseCsv(text: string): { header: string[]; rows: string[][] } {
  const [header, ...rows] = text
    .trim()
    .split('\n')
    .map((line) => line.split(','));
  return { header: header!, rows };
}

function argmaxRows(values: Float32Array, classes: number): number[] {
  return Array.from({ length: values.length / classes }, (_, row) => {
    const scores = Array.from(values.subarray(row * classes, (row + 1) * classes));
    return scores.indexOf(Math.max(...scores));
  });
}

async function forward(graph: Graph, input: Float32Array, batch: number): Promise<Float32Array> {
  const model = await Model.create(await testContext(), graph);
  const plan = await model.plan({ batch, objective: 'none' });
  const { output } = await plan.run({ input });
  plan.destroy();
  model.destroy();
  return output;
}

describe('digits.onnx, the MNIST demo model', () => {
  async function sampleBatch() {
    const { rows } = parseCsv(await readFile('samples/digits/labels.csv', 'utf8'));
    const images = await Promise.all(rows.map(([file]) => loadImage(`samples/digits/${file}`, { channels: 1, size: [28, 28] })));
    const input = new Float32Array(images.length * 784);
    images.forEach((image, i) => input.set(image.data, i * 784));
    return { input, labels: rows.map(([, label]) => Number(label)), batch: rows.length };
  }

  it('imports with input [1, 28, 28] and 10 logits', async () => {
    const graph = await load('models/digits.onnx');
    expect([graph.input, graph.inputShape, graph.output]).toEqual(['input', [1, 28, 28], 'logits']);
    expect(new Set(graph.nodes.map((node) => node.op))).toEqual(new Set(['Conv', 'Relu', 'MaxPool', 'Flatten', 'Gemm']));
  });

  it('classifies the sample PNGs at least as well as PyTorch did', async () => {
    const { input, labels, batch } = await sampleBatch();
    const recorded = await recordedSampleCount('digits.onnx');
    expect(batch).toBe(recorded.of);
    const predicted = argmaxRows(await forward(await load('models/digits.onnx'), input, batch), 10);
    const right = predicted.filter((digit, i) => digit === labels[i]).length;
    expect(right, `predicted ${predicted}, labels ${labels}`).toBeGreaterThanOrEqual(recorded.right);
  });

  it('gives the logits of the float64 interpreter on the sample PNGs', async () => {
    const { input, batch } = await sampleBatch();
    const graph = await load('models/digits.onnx');
    // f32 sums of up to 784 products of O(1) terms, logits up to ~30: well under 1e-3 apart.
    expectAllClose(await forward(graph, input, batch), referenceForward(graph, input, batch).get('logits')!, { abs: 1e-3, rel: 1e-4 }, 'logits');
  });
});

describe('tabular.onnx, the breast-cancer demo model', () => {
  it('takes the 30 raw features and standardises them itself (Sub, then Div, by constants)', async () => {
    const graph = await load('models/tabular.onnx');
    expect([graph.input, graph.inputShape, graph.output]).toEqual(['input', [30], 'logits']);
    const [sub, div] = graph.nodes;
    expect([sub!.op, sub!.inputs[0], graph.constants.has(sub!.inputs[1]!)]).toEqual(['Sub', 'input', true]);
    expect([div!.op, div!.inputs[0], graph.constants.has(div!.inputs[1]!)]).toEqual(['Div', sub!.outputs[0], true]);
  });

  it('classifies the sample CSV rows at least as well as PyTorch did', async () => {
    const { header, rows } = parseCsv(await readFile('samples/tabular.csv', 'utf8'));
    expect([header.length, header.at(-1)]).toEqual([31, 'label']);
    const recorded = await recordedSampleCount('tabular.onnx');
    expect(rows.length).toBe(recorded.of);
    const input = Float32Array.from(rows.flatMap((row) => row.slice(0, -1).map(Number)));
    const labels = rows.map((row) => Number(row.at(-1)));
    const predicted = argmaxRows(await forward(await load('models/tabular.onnx'), input, rows.length), 2);
    const right = predicted.filter((label, i) => label === labels[i]).length;
    expect(right, `predicted ${predicted}, labels ${labels}`).toBeGreaterThanOrEqual(recorded.right);
  });
});
