import { allocate } from '../gpu/buffers.ts';
import { CommandBatch } from '../gpu/commands.ts';
import { GradlensError } from '../gpu/errors.ts';
import { sizeOf } from '../graph/ir.ts';
import { Model } from '../graph/model.ts';
import { modelOf, type AnyModel } from '../lens.ts';
import { uniform } from '../graph/random.ts';
import { STREAM, uniformSequence } from '../attribution/philox.ts';
import { explain, type ExplainOptions } from '../attribution/explain.ts';
import { spearman, ssim } from './similarity.ts';
import { scoredTargets } from './targets.ts';

/** A layer with parameters, by its node name, and the weight and bias tensors it reads. */
export interface ParameterLayer {
  name: string;
  weight: string;
  bias?: string;
  fanIn: number;
}

/** Conv and Gemm nodes with constant weights, in graph order (input first). */
export function parameterLayers(model: Model): ParameterLayer[] {
  const { graph } = model;
  return graph.nodes.flatMap((node) => {
    if (node.op !== 'Conv' && node.op !== 'Gemm') return [];
    const [, weight, bias] = node.inputs;
    const constant = graph.constants.get(weight ?? '');
    if (!weight || !constant || !model.weights.has(weight)) return [];
    const fanIn = node.op === 'Conv' ? sizeOf(constant.shape.slice(1)) : node.attributes.transB ? constant.shape[1]! : constant.shape[0]!;
    return [{ name: node.name, weight, fanIn, ...(bias && model.weights.has(bias) ? { bias } : {}) }];
  });
}

/**
 * A copy of the model's weights on the GPU with the given layers re-initialised as PyTorch's reset_parameters does
 * (weight and bias ~ U(±1/√fan_in)), seeded; the model's own buffers are never written. Destroy it after use.
 */
export async function randomisedModel(handle: AnyModel, layers: readonly ParameterLayer[], seed: number): Promise<Model> {
  const model = await modelOf(handle);
  const { device } = model.gpu;
  const entries = [...model.weights];
  const copies = await allocate(
    device,
    entries.map(([name, buffer]) => ({ label: `${model.graph.name}:${name} randomised`, size: buffer.size })),
  );
  const batch = new CommandBatch(device, 'randomisation weight copies');
  entries.forEach(([, buffer], t) => batch.copy(buffer, copies[t]!, buffer.size));
  await batch.submit();
  const variant = Model.withWeights(model, new Map(entries.map(([name], t) => [name, copies[t]!])));
  // One seed per layer, whatever else is randomised with it: cascading and independent steps agree on a layer's weights.
  const all = parameterLayers(model).map((layer) => layer.name);
  for (const layer of layers) reinitialise(variant, model, layer, seed + all.indexOf(layer.name));
  return variant;
}

export interface Similarity {
  spearman: number;
  spearmanAbsolute: number;
  ssim: number;
}

/** The similarity of two maps of one input: Spearman of signed and of absolute values, SSIM of min-max normalised |maps|. */
export function mapSimilarity(a: Float32Array, b: Float32Array, height: number, width: number): Similarity {
  const absA = a.map(Math.abs);
  const absB = b.map(Math.abs);
  return {
    spearman: spearman(a, b),
    spearmanAbsolute: spearman(absA, absB),
    ssim: ssim(normalise(pixels(absA, height * width)), normalise(pixels(absB, height * width)), height, width, { dataRange: 1 }),
  };
}

function pixels(map: Float32Array, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let e = 0; e < map.length; e++) out[e % count]! += map[e]!;
  return out;
}

function normalise(map: Float32Array): Float32Array {
  let [low, high] = [Infinity, -Infinity];
  for (const v of map) ((low = Math.min(low, v)), (high = Math.max(high, v)));
  return map.map((v) => (high > low ? (v - low) / (high - low) : 0));
}

export interface RandomisationStep {
  /** The layers randomised at this step (cascading: all down to this one; independent: this one alone). */
  layers: string[];
  /** Per input, the similarity to the original map. */
  similarity: Similarity[];
  mean: Similarity;
}

export interface RandomisationOptions {
  mode?: 'cascading' | 'independent';
  seed?: number;
}

/**
 * Model-parameter randomisation (Adebayo 2018, §3): cascading from the top layer down, or each layer alone, on a copy
 * of the weights; each step explains the inputs again at the original targets and compares with the original maps.
 */
export async function modelRandomisation(
  handle: AnyModel,
  inputs: Float32Array,
  count: number,
  explainOptions: ExplainOptions,
  options: RandomisationOptions = {},
): Promise<{ original: Float32Array; steps: RandomisationStep[] }> {
  const model = await modelOf(handle);
  const layers = parameterLayers(model);
  if (layers.length === 0) throw new GradlensError('BAD_PARAMS', `${model.graph.name} has no Conv or Gemm layer with weights to randomise`);
  const seed = options.seed ?? 0;
  const { targets } = await scoredTargets(model, inputs, count, explainOptions.target ?? 'top1');
  const fixed = { ...explainOptions, target: Array.from(targets), seed: explainOptions.seed ?? seed };
  const original = (await explain(model, inputs, count, fixed)).attribution;
  const [height, width] = spatial(model.graph.inputShape);
  const size = sizeOf(model.graph.inputShape);
  const topDown = [...layers].reverse();
  const steps: RandomisationStep[] = [];
  for (let k = 0; k < topDown.length; k++) {
    const chosen = options.mode === 'independent' ? [topDown[k]!] : topDown.slice(0, k + 1);
    const variant = await randomisedModel(model, chosen, seed);
    try {
      const maps = (await explain(variant, inputs, count, fixed)).attribution;
      const similarity = Array.from({ length: count }, (_, i) =>
        mapSimilarity(original.subarray(i * size, (i + 1) * size), maps.subarray(i * size, (i + 1) * size), height, width),
      );
      steps.push({ layers: chosen.map((layer) => layer.name), similarity, mean: meanOf(similarity) });
    } finally {
      variant.destroy();
    }
  }
  return { original, steps };
}

function reinitialise(variant: Model, model: Model, layer: ParameterLayer, seed: number): void {
  const next = uniformSequence(seed, STREAM.metric, 1); // id 1: re-initialised weights
  for (const tensor of [layer.weight, layer.bias]) {
    if (!tensor) continue;
    const data = uniform(next, model.graph.constants.get(tensor)!.data.length, 1 / Math.sqrt(layer.fanIn));
    variant.gpu.device.queue.writeBuffer(variant.weights.get(tensor)!, 0, data.buffer, data.byteOffset, data.byteLength);
  }
}

/**
 * Random-logit test (Sixt 2020; Quantus RandomLogit): per input, the SSIM of the map for its class and the map for a
 * seeded random other class; a method that explains the class should score low.
 */
export async function randomLogit(
  handle: AnyModel,
  inputs: Float32Array,
  count: number,
  explainOptions: ExplainOptions,
  options: { seed?: number } = {},
): Promise<Float64Array> {
  const model = await modelOf(handle);
  const { targets, classes } = await scoredTargets(model, inputs, count, explainOptions.target ?? 'top1');
  const next = uniformSequence(options.seed ?? 0, STREAM.metric, 2); // id 2: the random other class
  const others = Array.from(targets, (t) => (t + 1 + Math.floor(next() * (classes - 1))) % classes);
  const seed = explainOptions.seed ?? options.seed ?? 0;
  const original = (await explain(model, inputs, count, { ...explainOptions, target: Array.from(targets), seed })).attribution;
  const other = (await explain(model, inputs, count, { ...explainOptions, target: others, seed })).attribution;
  const [height, width] = spatial(model.graph.inputShape);
  const size = sizeOf(model.graph.inputShape);
  return Float64Array.from(
    { length: count },
    (_, i) => mapSimilarity(original.subarray(i * size, (i + 1) * size), other.subarray(i * size, (i + 1) * size), height, width).ssim,
  );
}

/** Height and width of an image input; a vector is one row. */
function spatial(shape: readonly number[]): [number, number] {
  return shape.length === 3 ? [shape[1]!, shape[2]!] : [1, sizeOf(shape)];
}

function meanOf(similarity: Similarity[]): Similarity {
  const mean = (key: keyof Similarity) => similarity.reduce((sum, s) => sum + s[key], 0) / similarity.length;
  return { spearman: mean('spearman'), spearmanAbsolute: mean('spearmanAbsolute'), ssim: mean('ssim') };
}
