/** The model IR, in ONNX's terms: nodes named by op type, tensors by name, weights as constants. */
export type Shape = readonly number[];

/** A constant tensor (a weight, a bias): float32, row-major. */
export interface Constant {
  shape: Shape;
  data: Float32Array;
}

export type AttributeValue = number | readonly number[] | string;

export interface GraphNode {
  name: string;
  /** ONNX op type: Conv, Gemm, Relu, ... */
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes: Readonly<Record<string, AttributeValue>>;
}

/**
 * A single-input, single-output network, as attribution needs: the input's gradient of a score of the output.
 * `inputShape` leaves out the batch dimension, which each plan chooses.
 */
export interface Graph {
  name: string;
  input: string;
  inputShape: Shape;
  output: string;
  nodes: readonly GraphNode[];
  constants: ReadonlyMap<string, Constant>;
  /** The output's class names, where the source names them (an ONNX file's metadata: labels, class_names or classes). */
  labels?: readonly string[];
  /**
   * Present where the input holds integer token ids (a text model): ids go in as float32 integers, their gradient is
   * zero, and attribution is taken at the embedding output. The vocabulary (id → token), where the source gives one.
   */
  tokenIds?: { vocabulary?: readonly string[] | undefined };
  /** Per-sample input axes the source leaves free (dynamic height, width, sequence length), where it has any. */
  freeAxes?: readonly number[];
  /**
   * The same network at another per-sample input shape, its shape sub-graph folded again (models from ONNX files);
   * absent where the graph exists at one shape only. Throws BAD_INPUT for a shape the model cannot take.
   */
  specialise?(inputShape: Shape): Graph;
}

export function sizeOf(shape: Shape): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

export function attribute<T extends AttributeValue>(node: GraphNode, name: string, fallback: T): T {
  return (node.attributes[name] as T | undefined) ?? fallback;
}
