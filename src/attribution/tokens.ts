import { GradlensError } from '../gpu/errors.ts';
import { graphFrom } from '../graph/cut.ts';
import { embeddingOutput } from '../graph/embedding.ts';
import { sizeOf } from '../graph/ir.ts';
import { Model } from '../graph/model.ts';
import { explain } from './explain.ts';
import type { ExplainOptions, Explanation } from './types.ts';

/** How a token's attribution is made from its embedding's: the signed sum (Captum's tutorials) or the L2 norm. */
export type TokenReduction = 'sum' | 'l2';

export interface TokenOptions {
  /** The tensor attributed at: default the token embedding output (the Gather of a constant table by the ids). */
  layer?: string;
  /** Per token: 'sum' over the embedding (default, signed) or 'l2'. */
  reduce?: TokenReduction;
  /**
   * Where paths start: every id replaced by this one (a [PAD] or [MASK] id), embedded by the model. Without it,
   * `baseline` applies at the layer: zeros (default) or a tensor of the layer's size.
   */
  baselineToken?: number;
}

export interface TokenExplanation extends Explanation {
  /** count × sequence: one value per token, the layer's attribution reduced over the embedding. */
  tokens: Float32Array;
  /** The tensor attributed at; `attribution` and `shape` are its (count × layer shape), as Captum's layer methods. */
  layer: string;
  reduce: TokenReduction;
}

/**
 * Token attribution for a model on integer ids (`count` × the model's id shape, as float32 integers): the method runs
 * on the network after the token embedding, from the embedding of the ids, so integrated gradients here is Captum's
 * LayerIntegratedGradients on the embedding layer, and saliency, gradient × input and the rest are their layer forms
 * (LayerGradientXActivation, ...). Errors: BAD_INPUT for ids outside the vocabulary; BAD_PARAMS for a layer that does
 * not hold one row per token or that the output also bypasses.
 */
export async function explainTokens(model: Model, ids: Float32Array, count: number, options: ExplainOptions & TokenOptions): Promise<TokenExplanation> {
  const { layer = embeddingOutput(model.graph), reduce = 'sum', baselineToken, ...rest } = options;
  if (reduce !== 'sum' && reduce !== 'l2') throw new GradlensError('BAD_PARAMS', `reduce "${String(reduce)}" is not one of sum, l2`);
  checkIds(model, ids, 'ids');
  const cut = await Model.create(model.gpu, graphFrom(model.graph, layer));
  try {
    const embedded = await activations(model, layer, ids, count);
    const baseline = baselineToken === undefined ? rest.baseline : await activations(model, layer, baselineIds(model, ids, baselineToken), count);
    const explanation = await explain(cut, embedded, count, { ...rest, ...(baseline === undefined ? {} : { baseline }) });
    const perToken = sizeOf(model.graph.inputShape);
    const layerShape = cut.graph.inputShape;
    if (layerShape.slice(0, model.graph.inputShape.length).join() !== model.graph.inputShape.join()) {
      throw new GradlensError('BAD_PARAMS', `layer "${layer}" [${layerShape.join(', ')}] does not hold one row per token [${model.graph.inputShape.join(', ')}]`);
    }
    const tokens = perTokenOf(explanation.attribution, count * perToken, reduce);
    return { ...explanation, tokens, layer, reduce, options: { ...explanation.options, layer, reduce, ...(baselineToken === undefined ? {} : { baselineToken }) } };
  } finally {
    cut.destroy();
  }
}

/** The attribution of each of `tokens` rows summed (signed) or its L2 norm. */
export function perTokenOf(attribution: Float32Array, tokens: number, reduce: TokenReduction): Float32Array {
  const width = attribution.length / tokens;
  return Float32Array.from({ length: tokens }, (_, t) => {
    let total = 0;
    for (let k = t * width; k < (t + 1) * width; k++) total += reduce === 'sum' ? attribution[k]! : attribution[k]! ** 2;
    return reduce === 'sum' ? total : Math.sqrt(total);
  });
}

/** The rows of the vocabulary: the first axis of the table the token embedding looks ids up in, where there is one. */
function vocabularySize(model: Model): number | undefined {
  let embedding: string;
  try {
    embedding = embeddingOutput(model.graph);
  } catch {
    return undefined; // a layer named by the caller on a model without a token table: any integer id
  }
  const lookup = model.graph.nodes.find((node) => node.outputs[0] === embedding)!;
  return model.graph.constants.get(lookup.inputs[0]!)!.shape[0];
}

function checkIds(model: Model, ids: Float32Array, what: string): void {
  const rows = vocabularySize(model);
  const bad = ids.findIndex((id) => !Number.isInteger(id) || id < 0 || (rows !== undefined && id >= rows));
  if (bad >= 0) throw new GradlensError('BAD_INPUT', `${what}[${bad}] = ${ids[bad]} is not a token id of ${model.graph.name} (0 … ${rows === undefined ? '' : rows - 1})`);
}

function baselineIds(model: Model, ids: Float32Array, token: number): Float32Array {
  const baseline = new Float32Array(ids.length).fill(token);
  checkIds(model, baseline, 'baselineToken');
  return baseline;
}

/** The values of `layer` for each input: one forward pass. */
async function activations(model: Model, layer: string, inputs: Float32Array, count: number): Promise<Float32Array> {
  const plan = await model.plan({ batch: count, objective: 'none', capture: [layer] });
  try {
    return (await plan.run({ input: inputs })).activations[layer]!;
  } finally {
    plan.destroy();
  }
}
