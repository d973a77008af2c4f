import { GradlensError, isGradlensError } from '../gpu/errors.ts';
import type { Constant, Graph, Shape } from '../graph/ir.ts';
import { inferShapes } from '../graph/shapes.ts';
import { Analysis, FixedBatch, prune, type Analysed } from './analysis.ts';
import { FoldBudget, FoldBudgetSpent } from './evaluate.ts';
import { sortNodes, workNodes, type WorkNode } from './nodes.ts';
import { decodeModel, type OnnxGraph, type OnnxValueInfo } from './proto.ts';
import { elementCount, tensorValue, type TensorValue } from './tensor.ts';
import { checkInputShape, checkIsOnnx, checkNode, checkOpset } from './validate.ts';

export { decodeTensor } from './tensor.ts';

export interface LoadOptions {
  /** The graph's name (default: the model's graph name). */
  name?: string;
  /** Values for graph inputs other than the one explained (a mask, a second operand): bound as constants. */
  constants?: Readonly<Record<string, Constant>>;
  /** Which graph output to explain, where the model has several. */
  output?: string;
  /**
   * The per-sample input shape to specialise at, where the file leaves dimensions after the batch free (dynamic
   * height, width, sequence length). Default: each free dimension at the first of PROBE_SIZES the model holds at.
   */
  inputShape?: Shape;
}

/** Newest default-domain opset read; each op's changes up to it are handled (src/onnx/opsets.ts). */
export const MAX_OPSET = 18;

/** Sizes tried, in order, for free input dimensions when no inputShape is given. */
export const PROBE_SIZES = [224, 128, 64, 32, 16];

/** Specialisations of one loaded model kept at once (each is a graph; weights are shared). */
const SPECIALISATIONS_KEPT = 16;

const FLOAT_INPUTS = new Set([1, 10, 11, 16]);
/** int32 and int64: token ids, looked up in an embedding table (exact as float32 up to 2^24). */
const ID_INPUTS = new Set([6, 7]);

/** What every specialisation of one model shares: the decoded, validated, sorted nodes and the known tensors. */
interface Source {
  name: string;
  opset: number;
  known: ReadonlyMap<string, TensorValue>;
  input: string;
  /** Per-sample dims as the file gives them: a number where fixed, undefined where free. */
  dims: readonly (number | undefined)[];
  /** The batch size the file declares (1 where it leaves the batch free). */
  declaredBatch: number;
  output: string;
  nodes: readonly WorkNode[];
  labels: readonly string[] | undefined;
  tokenIds: Graph['tokenIds'];
}

/** Metadata keys exporters put class names under (torchvision-style, Ultralytics, hand-made). */
const LABEL_KEYS = ['labels', 'class_names', 'classes', 'names'];

/**
 * The class names in a model's metadata: a JSON array, a JSON object from index to name (Ultralytics' `names`), or one
 * name per line or comma. Anything else is no labels, not an error: metadata is free-form.
 */
export function labelsFrom(metadata: ReadonlyMap<string, string>): string[] | undefined {
  const text = LABEL_KEYS.map((key) => metadata.get(key)).find((value) => value !== undefined && value.trim() !== '');
  if (text === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed)) return parsed.map(String);
    if (parsed && typeof parsed === 'object') {
      const entries = Object.entries(parsed).filter(([key]) => /^\d+$/.test(key));
      const names: string[] = [];
      for (const [key, value] of entries) names[Number(key)] = String(value);
      return entries.length ? Array.from(names, (name, i) => name ?? String(i)) : undefined;
    }
  } catch {
    // not JSON: a list
  }
  const names = text.split(text.includes('\n') ? /\r?\n/ : ',').map((name) => name.trim());
  return names.length > 1 ? names : undefined;
}

/** Metadata keys for a text model's vocabulary (id → token). */
const VOCABULARY_KEYS = ['vocabulary', 'vocab'];

/**
 * A text model's vocabulary in its metadata: a JSON list (id → token) or a JSON object token → id (Hugging Face's
 * vocab.json). Anything else is no vocabulary.
 */
export function vocabularyFrom(metadata: ReadonlyMap<string, string>): string[] | undefined {
  const text = VOCABULARY_KEYS.map((key) => metadata.get(key)).find((value) => value !== undefined);
  if (text === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed)) return parsed.map(String);
    if (parsed && typeof parsed === 'object') {
      const tokens: string[] = [];
      for (const [token, id] of Object.entries(parsed)) if (Number.isInteger(id) && (id as number) >= 0) tokens[id as number] = token;
      return Array.from(tokens, (token, i) => token ?? `[${i}]`);
    }
  } catch {
    // not JSON: no vocabulary
  }
  return undefined;
}

/**
 * An ONNX model (bytes of a .onnx file) as a gradlens Graph: one input whose first dimension is the batch, one output,
 * initializers as float32 constants. Shape arithmetic, Constant, Identity and Dropout are folded at load with the
 * batch left free and every other input dimension at a concrete size; where the file leaves some free, the graph's
 * `specialise` gives it at any other size (its shape sub-graph folded again). GELU and LayerNorm subgraphs become
 * Gelu and LayerNormalization, zero Pads join the Conv or pool after them. Constants may share memory with `bytes`:
 * do not change the bytes afterwards.
 * Errors: CORRUPT_MODEL, MISSING_INITIALIZER, UNSUPPORTED_OP, EXTERNAL_DATA, BAD_MODEL; BAD_PARAMS for bad options.
 */
export function loadOnnx(bytes: Uint8Array, options: LoadOptions = {}): Graph {
  checkIsOnnx(bytes);
  const model = decodeModel(bytes);
  const opset = checkOpset(model.opsets.get(''), MAX_OPSET);
  const graph = model.graph;
  const known = new Map<string, TensorValue>();
  for (const tensor of graph.initializers) known.set(tensor.name, tensorValue(tensor));
  for (const [name, constant] of Object.entries(options.constants ?? {})) {
    if (!graph.inputs.some((input) => input.name === name)) {
      const inputs = graph.inputs.map((i) => i.name).join(', ');
      throw new GradlensError('BAD_PARAMS', `options.constants names "${name}", which is not an input of the model (inputs: ${inputs})`);
    }
    if (elementCount(constant.shape, `options.constants.${name}`) !== constant.data.length) {
      throw new GradlensError('BAD_PARAMS', `options.constants.${name} has ${constant.data.length} values for shape [${constant.shape.join(', ')}]`);
    }
    known.set(name, { dtype: 'float', shape: [...constant.shape], data: constant.data });
  }
  const input = modelInput(graph, known);
  const output = modelOutput(graph, options.output);
  const all = workNodes(graph.nodes);
  all.forEach(checkNode);
  const nodes = prune(sortNodes(all, known, input.name, graph.sparseInitializers), output);
  if (!nodes.some((node) => node.outputs.includes(output)) && output !== input.name) {
    throw new GradlensError('BAD_MODEL', `no node produces the graph's output "${output}"`);
  }
  const declaredBatch = typeof input.dims[0] === 'number' && input.dims[0] > 0 ? input.dims[0] : 1;
  const dims = input.dims.slice(1).map((d) => (typeof d === 'number' && d > 0 ? d : undefined));
  const labels = labelsFrom(model.metadata);
  const source: Source = {
    name: options.name ?? (graph.name || 'model'),
    opset,
    known,
    input: input.name,
    dims,
    declaredBatch,
    output,
    nodes,
    labels,
    tokenIds: input.ids ? { vocabulary: vocabularyFrom(model.metadata) } : undefined,
  };
  if (options.inputShape) return specialisable(source, requested(source, options.inputShape));
  if (dims.every((d) => d !== undefined)) return specialisable(source, dims as number[]);
  // Free dimensions: the first probe size the model holds at; failing all, the first probe's error with a hint.
  let first: unknown;
  for (const size of PROBE_SIZES) {
    try {
      return specialisable(
        source,
        dims.map((d) => d ?? size),
      );
    } catch (error) {
      if (!isGradlensError(error, 'BAD_MODEL') || error instanceof FoldBudgetSpent) throw error;
      first ??= error;
    }
  }
  const message = (first as Error).message;
  const tried = `input dimensions the file leaves free were tried at ${PROBE_SIZES.join(', ')}`;
  const advice = 'give the size the model needs as loadOnnx(bytes, { inputShape }) or --size';
  throw new GradlensError('BAD_MODEL', `${message} (${tried}: ${advice})`, { cause: first });
}

/** The graph at one per-sample shape, able to make itself at others (cached, a few at a time). */
function specialisable(source: Source, shape: readonly number[]): Graph {
  const cache = new Map<string, Graph>();
  const make = (perSample: readonly number[], loaded?: Graph): Graph => {
    const key = perSample.join(',');
    let graph = cache.get(key);
    if (graph) {
      cache.delete(key); // re-inserted below: the map's order is the order of use
    } else {
      graph = { ...specialiseFor(source, perSample, loaded), freeAxes, specialise: (other: Shape) => make(requested(source, other), first) };
      if (cache.size >= SPECIALISATIONS_KEPT) cache.delete(cache.keys().next().value!);
    }
    cache.set(key, graph);
    return graph;
  };
  const freeAxes = source.dims.flatMap((d, i) => (d === undefined ? [i] : []));
  const first = make(shape);
  return first;
}

/** A specialisation asked for after loading: a shape the model cannot take is the input's fault, not the file's. */
function specialiseFor(source: Source, shape: readonly number[], loaded: Graph | undefined): Graph {
  try {
    return specialise(source, shape);
  } catch (error) {
    if (!loaded || !isGradlensError(error, 'BAD_MODEL')) throw error;
    throw new GradlensError(
      'BAD_INPUT',
      `${source.name} cannot take an input of [${shape.join(', ')}] (${error.message}); ` +
        `it loaded at [${loaded.inputShape.join(', ')}], which it takes`,
      { cause: error },
    );
  }
}

/** A per-sample shape asked for by the caller: the file's rank, its fixed dims kept, the free ones positive. */
function requested(source: Source, shape: Shape): number[] {
  const fixed = source.dims.map((d) => d ?? '?').join(', ');
  const where = `the input [${shape.join(', ')}]`;
  if (shape.length !== source.dims.length) {
    throw new GradlensError('BAD_INPUT', `${where} has rank ${shape.length}; ${source.name} takes [${fixed}] per sample (after the batch)`);
  }
  const clash = source.dims.findIndex((d, i) => d !== undefined && d !== shape[i]);
  if (clash >= 0) {
    const why = `whose file fixes the input at [${fixed}] per sample: resize the input to it`;
    throw new GradlensError('BAD_INPUT', `${where} does not fit ${source.name}, ${why}`);
  }
  checkInputShape(shape, where);
  return [...shape];
}

/**
 * The graph at one per-sample input shape, the batch left free: analysed at two batch sizes as written; failing that,
 * with Reshape targets that spell out the export's batch read as "keep the batch"; failing that too, the graph holds
 * only the batch it declares. Every attempt folds within its own budget.
 */
function specialise(source: Source, inputShape: readonly number[]): Graph {
  const { declaredBatch: declared, opset, known, input, output, nodes } = source;
  let analysed: Analysed | undefined;
  for (const [batches, repair] of [
    [[declared, declared + 1], false],
    [[declared, declared + 1], true],
    [[declared], false],
  ] as const) {
    try {
      analysed = new Analysis([...batches], repair, opset, known, input, inputShape, output, nodes, new FoldBudget()).run();
      break;
    } catch (error) {
      if (!(error instanceof FixedBatch)) throw error;
    }
  }
  const { output: analysedOutput, nodes: analysedNodes, constants } = analysed!;
  const graph: Graph = { name: source.name, input, inputShape: [...inputShape], output: analysedOutput, nodes: analysedNodes, constants };
  if (source.labels) graph.labels = source.labels;
  if (source.tokenIds) graph.tokenIds = source.tokenIds;
  try {
    inferShapes(graph, declared);
  } catch (error) {
    throw new GradlensError('BAD_MODEL', `the imported graph does not hold together at batch ${declared}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return graph;
}

/** The one input that is neither an initializer nor bound: float or integer ids, with a batch dimension and a rank. */
function modelInput(
  graph: OnnxGraph,
  known: ReadonlyMap<string, TensorValue>,
): { name: string; dims: (number | string | undefined)[]; ids: boolean } {
  const free = graph.inputs.filter((input) => !known.has(input.name));
  if (free.length !== 1) {
    const names = free.map((i) => i.name).join(', ') || 'none';
    throw new GradlensError(
      'BAD_MODEL',
      `gradlens explains models with one input; this one has ${free.length} (${names}). Bind the others to constants with loadOnnx(bytes, { constants: { name: tensor } }).`,
    );
  }
  const input = free[0]!;
  const where = `the model's input "${input.name}"`;
  if (!input.name) throw new GradlensError('BAD_MODEL', "the model's input has no name");
  if (!input.isTensor || !(FLOAT_INPUTS.has(input.elemType) || ID_INPUTS.has(input.elemType))) {
    throw new GradlensError(
      'BAD_MODEL',
      `${where} is neither a float tensor nor int32/int64 token ids (element type ${input.elemType}); gradlens explains models with those inputs`,
    );
  }
  const dims = input.dims;
  if (!dims || dims.length < 1)
    throw new GradlensError(
      'BAD_MODEL',
      `${where} has no ${dims ? 'batch dimension' : 'shape'}; re-export the model with a shaped input whose first dimension is the batch`,
    );
  const fixed = dims.slice(1).map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  checkInputShape(fixed, `${where} [${dims.map((d) => d ?? '?').join(', ')}]`);
  return { name: input.name, dims, ids: ID_INPUTS.has(input.elemType) };
}

function modelOutput(graph: OnnxGraph, chosen: string | undefined): string {
  const names = graph.outputs.map((o: OnnxValueInfo) => o.name);
  if (chosen !== undefined) {
    if (!names.includes(chosen))
      throw new GradlensError('BAD_PARAMS', `options.output "${chosen}" is not an output of the model (outputs: ${names.join(', ')})`);
    return chosen;
  }
  if (names.length !== 1) {
    throw new GradlensError(
      'BAD_MODEL',
      `gradlens explains one output; this model has ${names.length} (${names.join(', ') || 'none'}): choose one with loadOnnx(bytes, { output })`,
    );
  }
  return names[0]!;
}
