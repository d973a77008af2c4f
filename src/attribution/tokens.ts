import { GradlensError } from '../gpu/errors.ts';
import { embeddingOutput } from '../graph/embedding.ts';
import { sizeOf } from '../graph/ir.ts';
import type { Model } from '../graph/model.ts';
import { explain } from './explain.ts';
import { layerMethods } from './describe.ts';
import type { ExplainOptions, Explanation, MethodId } from './types.ts';

/** How a token's attribution is made from its embedding's: the signed sum (Captum's tutorials) or the L2 norm. */
export type TokenReduction = 'sum' | 'l2';

export interface TokenOptions {
  /** The tensor attributed at: default the token embedding output (the Gather of a constant table by the ids). */
  layer?: string;
  /** Per token: 'sum' over the embedding (default, signed) or 'l2'. */
  reduce?: TokenReduction;
  /** Where integrated gradients' path starts: every id replaced by this one (a [PAD] or [MASK] id); default zero embeddings. */
  baselineToken?: number;
}

export interface TokenExplanation extends Explanation {
  /** count × sequence: one value per token, the layer's attribution reduced over the embedding. */
  tokens: Float32Array;
  /** The tensor attributed at; `attribution` and `shape` are its (count × layer shape), as Captum's layer methods. */
  layer: string;
  reduce: TokenReduction;
}

/** Input methods a text user asks for by name, and the Captum layer method each is at the token embedding. */
const AT_EMBEDDING: Readonly<Partial<Record<MethodId, MethodId>>> = {
  'integrated-gradients': 'layer-integrated-gradients',
  'gradient-x-input': 'layer-gradient-x-activation',
};

/**
 * Token attribution for a model on integer ids (`count` × the model's id shape, as float32 integers), at the token
 * embedding output through the layer methods (src/attribution/layer.ts): 'integrated-gradients' is Captum's
 * LayerIntegratedGradients on the embedding layer, 'gradient-x-input' LayerGradientXActivation, and any layer method
 * (layer-conductance, internal-influence, …) runs at the embedding unless given another `layer`. Errors: BAD_INPUT
 * for ids outside the vocabulary; BAD_PARAMS for a method that works on the input only, or a layer that does not hold
 * one row per token.
 */
export async function explainTokens(
  model: Model,
  ids: Float32Array,
  count: number,
  options: ExplainOptions & TokenOptions,
): Promise<TokenExplanation> {
  const { layer = embeddingOutput(model.graph), reduce = 'sum', baselineToken, ...rest } = options;
  if (reduce !== 'sum' && reduce !== 'l2') throw new GradlensError('BAD_PARAMS', `reduce "${String(reduce)}" is not one of sum, l2`);
  const method = AT_EMBEDDING[rest.method] ?? rest.method;
  if (!layerMethods().includes(method)) {
    const names = [...Object.keys(AT_EMBEDDING), ...layerMethods()];
    throw new GradlensError('BAD_PARAMS', `${rest.method} attributes to the input, and token ids have no gradient: use one of ${names.join(', ')}`);
  }
  checkIds(model, ids, 'ids');
  // Paths start from every id replaced by the baseline token, or from zero embeddings.
  const start = baselineToken === undefined ? { layerBaseline: 'zeros' as const } : { baseline: baselineIds(model, ids, baselineToken) };
  const explanation = await explain(model, ids, count, { ...rest, ...(method === 'layer-integrated-gradients' ? start : {}), method, layer });
  const perSequence = sizeOf(model.graph.inputShape);
  const layerShape = explanation.shape.slice(1);
  if (layerShape.slice(0, model.graph.inputShape.length).join() !== model.graph.inputShape.join()) {
    throw new GradlensError(
      'BAD_PARAMS',
      `layer "${layer}" [${layerShape.join(', ')}] does not hold one row per token [${model.graph.inputShape.join(', ')}]`,
    );
  }
  const tokens = perTokenOf(explanation.attribution, count * perSequence, reduce);
  const used = { ...explanation.options, reduce, ...(baselineToken === undefined ? {} : { baselineToken }) };
  return { ...explanation, tokens, layer, reduce, options: used };
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
  if (bad >= 0)
    throw new GradlensError(
      'BAD_INPUT',
      `${what}[${bad}] = ${ids[bad]} is not a token id of ${model.graph.name} (0 … ${rows === undefined ? '' : rows - 1})`,
    );
}

function baselineIds(model: Model, ids: Float32Array, token: number): Float32Array {
  const baseline = new Float32Array(ids.length).fill(token);
  checkIds(model, baseline, 'baselineToken');
  return baseline;
}
