import { GradlensError } from '../gpu/errors.ts';
import type { Constant, Graph } from '../graph/ir.ts';
import { inferShapes } from '../graph/shapes.ts';
import { Analysis, FixedBatch, type Analysed } from './analysis.ts';
import { sortNodes, workNodes } from './nodes.ts';
import { decodeModel, type OnnxGraph, type OnnxValueInfo } from './proto.ts';
import { elementCount, tensorValue, type TensorValue } from './tensor.ts';

export { decodeTensor } from './tensor.ts';

export interface LoadOptions {
  /** The graph's name (default: the model's graph name). */
  name?: string;
  /** Values for graph inputs other than the one explained (a mask, a second operand): bound as constants. */
  constants?: Readonly<Record<string, Constant>>;
  /** Which graph output to explain, where the model has several. */
  output?: string;
}

/** Newest default-domain opset read; each op's changes up to it are handled (src/onnx/opsets.ts). */
export const MAX_OPSET = 18;

const FLOAT_INPUTS = new Set([1, 10, 11, 16]);

/**
 * An ONNX model (bytes of a .onnx file) as a gradlens Graph: one input whose first dimension is the batch, one output,
 * initializers as float32 constants. Shape arithmetic, Constant, Identity and Dropout are folded at load with the
 * batch left free; GELU and LayerNorm subgraphs become Gelu and LayerNormalization, zero Pads join the Conv or pool
 * after them. Constants may share memory with `bytes`: do not change the bytes afterwards.
 * Errors: CORRUPT_MODEL, MISSING_INITIALIZER, UNSUPPORTED_OP, EXTERNAL_DATA, BAD_MODEL; BAD_PARAMS for bad options.
 */
export function loadOnnx(bytes: Uint8Array, options: LoadOptions = {}): Graph {
  const model = decodeModel(bytes);
  const opset = model.opsets.get('') ?? 1;
  if (opset > MAX_OPSET) {
    throw new GradlensError('UNSUPPORTED_OP', `the model uses ONNX opset ${opset}; gradlens reads opsets up to ${MAX_OPSET}: re-export it with opset_version=${MAX_OPSET} or lower`);
  }
  const source = model.graph;
  const known = new Map<string, TensorValue>();
  for (const tensor of source.initializers) known.set(tensor.name, tensorValue(tensor));
  for (const [name, constant] of Object.entries(options.constants ?? {})) {
    if (!source.inputs.some((input) => input.name === name)) {
      throw new GradlensError('BAD_PARAMS', `options.constants names "${name}", which is not an input of the model (inputs: ${source.inputs.map((i) => i.name).join(', ')})`);
    }
    if (elementCount(constant.shape, `options.constants.${name}`) !== constant.data.length) {
      throw new GradlensError('BAD_PARAMS', `options.constants.${name} has ${constant.data.length} values for shape [${constant.shape.join(', ')}]`);
    }
    known.set(name, { dtype: 'float', shape: [...constant.shape], data: constant.data });
  }
  const input = modelInput(source, known);
  const output = modelOutput(source, options.output);
  const nodes = sortNodes(workNodes(source.nodes), known, input.name, source.sparseInitializers);
  if (!nodes.some((node) => node.outputs.includes(output)) && output !== input.name) {
    throw new GradlensError('BAD_MODEL', `no node produces the graph's output "${output}"`);
  }
  const declared = typeof input.dims[0] === 'number' && input.dims[0] > 0 ? input.dims[0] : 1;
  const inputShape = input.dims.slice(1) as number[];
  const run = (batches: number[], repair: boolean) => new Analysis(batches, repair, opset, known, input.name, inputShape, output, nodes).run();
  // At two batch sizes as written; failing that, with Reshape targets that spell out the export's batch read as
  // "keep the batch"; failing that too, the graph holds only the batch it declares.
  let analysed: Analysed | undefined;
  for (const [batches, repair] of [[[declared, declared + 1], false], [[declared, declared + 1], true], [[declared], false]] as const) {
    try {
      analysed = run([...batches], repair);
      break;
    } catch (error) {
      if (!(error instanceof FixedBatch)) throw error;
    }
  }
  const graph: Graph = {
    name: options.name ?? (source.name || 'model'),
    input: input.name,
    inputShape,
    output: analysed!.output,
    nodes: analysed!.nodes,
    constants: analysed!.constants,
  };
  try {
    inferShapes(graph, declared);
  } catch (error) {
    throw new GradlensError('BAD_MODEL', `the imported graph does not hold together at batch ${declared}: ${(error as Error).message}`, { cause: error });
  }
  return graph;
}

/** The one input that is neither an initializer nor bound: float, shape known after the batch dimension. */
function modelInput(graph: OnnxGraph, known: ReadonlyMap<string, TensorValue>): { name: string; dims: (number | string | undefined)[] } {
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
  if (!input.isTensor || !FLOAT_INPUTS.has(input.elemType)) {
    throw new GradlensError('BAD_MODEL', `${where} is not a float tensor (element type ${input.elemType}); gradlens explains models with float inputs`);
  }
  const dims = input.dims;
  if (!dims || dims.length < 1) throw new GradlensError('BAD_MODEL', `${where} has no ${dims ? 'batch dimension' : 'shape'}; re-export the model with a shaped input whose first dimension is the batch`);
  const rest = dims.slice(1);
  if (!rest.every((d): d is number => typeof d === 'number' && Number.isSafeInteger(d) && d > 0)) {
    throw new GradlensError('BAD_MODEL', `${where} has shape [${dims.map((d) => d ?? '?').join(', ')}]: the dimensions after the batch must be fixed positive sizes; re-export with a fixed input size (dynamic_axes only on the batch)`);
  }
  return { name: input.name, dims };
}

function modelOutput(graph: OnnxGraph, chosen: string | undefined): string {
  const names = graph.outputs.map((o: OnnxValueInfo) => o.name);
  if (chosen !== undefined) {
    if (!names.includes(chosen)) throw new GradlensError('BAD_PARAMS', `options.output "${chosen}" is not an output of the model (outputs: ${names.join(', ')})`);
    return chosen;
  }
  if (names.length !== 1) {
    throw new GradlensError('BAD_MODEL', `gradlens explains one output; this model has ${names.length} (${names.join(', ') || 'none'}): choose one with loadOnnx(bytes, { output })`);
  }
  return names[0]!;
}

