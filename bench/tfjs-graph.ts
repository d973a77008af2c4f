// A gradlens Graph run by TensorFlow.js with the same weights, so tf.grad gives the peer's gradients of the same
// network. Spatial tensors live in NHWC (TF.js's native layout: its pooling and depthwise kernels have no NCHW form);
// values cross to ONNX's NCHW only where an op's meaning depends on the layout (Flatten, Reshape, Softmax axes...).
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node build registers no gradients (the @tensorflow/tfjs bundle does, from these ESM files). Imported by
// path, so Vite bundles them: Node cannot load that ESM tree itself (extensionless imports). The registry is global.
import '../node_modules/@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { foldBatchNorm } from '../src/graph/fold.ts';
import { attribute, type Graph, type GraphNode, type Shape } from '../src/graph/ir.ts';
import { explicitPads } from '../src/graph/ops/window.ts';
import { inferShapes } from '../src/graph/shapes.ts';

/** A tensor and whether it is held as NHWC (a 4-D NCHW tensor transposed) or as ONNX lays it out. */
interface Value {
  tensor: tf.Tensor;
  nhwc: boolean;
}

type Pair = [number, number];
type OpRun = (node: GraphNode, inputs: (Value | undefined)[], context: RunContext) => Value;

interface RunContext {
  shapes: ReadonlyMap<string, Shape>;
  weights: ReadonlyMap<string, tf.Tensor>;
  constant(name: string | undefined): Float32Array | undefined;
}

export interface TfjsGraphOptions {
  /** Fold BatchNormalization into the Conv/Gemm before it, as gradlens does and as tfjs-converter's graph optimiser does. Default true. */
  foldBatchNorm?: boolean;
}

const toNhwc = (t: tf.Tensor) => tf.transpose(t, [0, 2, 3, 1]);
const toNchw = (t: tf.Tensor) => tf.transpose(t, [0, 3, 1, 2]);

function nhwc(value: Value): tf.Tensor4D {
  if (value.nhwc) return value.tensor as tf.Tensor4D;
  if (value.tensor.rank !== 4) throw new Error(`expected a 4-D tensor, got [${value.tensor.shape}]`);
  return toNhwc(value.tensor) as tf.Tensor4D;
}

function plain(value: Value): tf.Tensor {
  return value.nhwc ? toNchw(value.tensor) : value.tensor;
}

const spatial = (tensor: tf.Tensor): Value => ({ tensor, nhwc: true });
const flat = (tensor: tf.Tensor): Value => ({ tensor, nhwc: false });
const ints = (node: GraphNode, name: string, fallback: number[]) => [...attribute<readonly number[]>(node, name, fallback)];

/** Explicit [[0,0],[top,bottom],[left,right],[0,0]] padding, with the extra bottom/right rows ceil_mode needs. */
function windowPadding(node: GraphNode, x: tf.Tensor4D, kernel: Pair, strides: Pair, dilations: Pair): tf.backend_util.ExplicitPadding {
  const [, height, width] = x.shape;
  const [top, left, bottom, right] = explicitPads(node, [height, width], kernel, strides, dilations);
  const ceil = attribute<number>(node, 'ceil_mode', 0) === 1;
  const extra = (size: number, before: number, after: number, a: 0 | 1) => {
    if (!ceil) return 0;
    const span = size + before + after - dilations[a] * (kernel[a] - 1) - 1;
    const out = Math.ceil(span / strides[a]) + 1;
    // PyTorch's rule: the last window must start inside the input or its left padding.
    const count = (out - 1) * strides[a] >= size + before ? out - 1 : out;
    return Math.max(0, (count - 1) * strides[a] + dilations[a] * (kernel[a] - 1) + 1 - (size + before + after));
  };
  return [
    [0, 0],
    [top, bottom + extra(height, top, bottom, 0)],
    [left, right + extra(width, left, right, 1)],
    [0, 0],
  ];
}

function convWeights(node: GraphNode, weight: Float32Array, shape: Shape): tf.Tensor4D[] {
  const [outChannels, perGroup, kh, kw] = shape as [number, number, number, number];
  const group = attribute(node, 'group', 1);
  return tf.tidy(() => {
    const oihw = tf.tensor4d(weight, [outChannels, perGroup, kh, kw]);
    if (group > 1 && perGroup === 1) {
      // Depthwise: output channel c·m + j reads input channel c; TF.js wants [kh, kw, in, multiplier].
      const multiplier = outChannels / group;
      return [tf.transpose(tf.reshape(oihw, [group, multiplier, kh, kw]), [2, 3, 0, 1]) as tf.Tensor4D];
    }
    const perOut = outChannels / group;
    return Array.from(
      { length: group },
      (_, g) => tf.transpose(tf.slice(oihw, [g * perOut, 0, 0, 0], [perOut, perGroup, kh, kw]), [2, 3, 1, 0]) as tf.Tensor4D,
    );
  });
}

const activated = (node: GraphNode, t: tf.Tensor) => (attribute<string>(node, 'activation', 'none') === 'relu' ? tf.relu(t) : t);

// Unfused ops on purpose: tf.fused.* differentiate through customGrad, which computes the filter and bias gradients
// too (work attribution does not need, and Conv2DBackpropFilter has no wasm kernel); the plain ops' gradients are
// computed only along the path to the input.
const conv: OpRun = (node, [x], c) => {
  const input = nhwc(x!);
  const [kh, kw] = c.shapes.get(node.inputs[1]!)!.slice(2) as Pair;
  const strides = ints(node, 'strides', [1, 1]) as Pair;
  const dilations = ints(node, 'dilations', [1, 1]) as Pair;
  const pad = windowPadding(node, input, [kh, kw], strides, dilations);
  const bias = c.weights.get(`${node.name}:bias`);
  const group = attribute(node, 'group', 1);
  const filters = Array.from({ length: group }, (_, g) => c.weights.get(`${node.name}:filter${g}`)).filter((f) => f !== undefined) as tf.Tensor4D[];
  const output =
    group === 1
      ? tf.conv2d(input, filters[0]!, strides, pad, 'NHWC', dilations)
      : filters.length === 1
        ? tf.depthwiseConv2d(input, filters[0]!, strides, pad, 'NHWC', dilations)
        : tf.concat(
            tf.split(input, group, 3).map((part, g) => tf.conv2d(part as tf.Tensor4D, filters[g]!, strides, pad, 'NHWC', dilations)),
            3,
          );
  return spatial(activated(node, bias ? tf.add(output, bias) : output));
};

const gemm: OpRun = (node, [a, b, cInput], c) => {
  const transposeA = attribute<number>(node, 'transA', 0) === 1;
  const transposeB = attribute<number>(node, 'transB', 0) === 1;
  const alpha = attribute(node, 'alpha', 1);
  const left = alpha === 1 ? plain(a!) : tf.mul(plain(a!), alpha);
  const product = tf.matMul(left, c.weights.get(`${node.name}:b`) ?? plain(b!), transposeA, transposeB);
  const bias = c.weights.get(`${node.name}:c`) ?? (cInput ? tf.mul(plain(cInput), attribute(node, 'beta', 1)) : undefined);
  return flat(activated(node, bias ? tf.add(product, bias) : product));
};

const matMul: OpRun = (_node, [a, b]) => flat(tf.matMul(plain(a!), plain(b!)));

/** ONNX's numpy broadcasting in one layout: an NHWC operand pulls a rank ≤ 4 partner into NHWC (padded to 4-D first). */
function binary(op: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): OpRun {
  return (_node, [a, b]) => {
    if (!a!.nhwc && !b!.nhwc) return flat(op(a!.tensor, b!.tensor));
    const partner = (v: Value) => {
      if (v.nhwc) return v.tensor;
      if (v.tensor.rank > 4) throw new Error('broadcast beyond rank 4 against a spatial tensor');
      return toNhwc(tf.reshape(v.tensor, [...Array(4 - v.tensor.rank).fill(1), ...v.tensor.shape]));
    };
    return spatial(op(partner(a!), partner(b!)));
  };
}

function pointwise(op: (x: tf.Tensor, node: GraphNode, c: RunContext) => tf.Tensor): OpRun {
  return (node, [x], c) => ({ tensor: op(x!.tensor, node, c), nhwc: x!.nhwc });
}

const SQRT_HALF = Math.SQRT1_2;
const GELU_TANH = Math.sqrt(2 / Math.PI);

function clipBound(node: GraphNode, c: RunContext, index: number, name: string, fallback: number): number {
  return node.inputs[index] ? c.constant(node.inputs[index])![0]! : attribute(node, name, fallback);
}

/** How many of each output's window positions ONNX divides by: in-bounds ones, or those inside the declared pads too. */
function windowCounts(size: Pair, kernel: Pair, strides: Pair, pads: [number, number, number, number], out: Pair, includePad: boolean): tf.Tensor {
  const axis = (a: 0 | 1) =>
    Array.from({ length: out[a] }, (_, o) => {
      const start = o * strides[a] - pads[a];
      const [low, high] = includePad ? [-pads[a], size[a] + pads[a + 2]!] : [0, size[a]];
      return Math.min(start + kernel[a], high) - Math.max(start, low);
    });
  const [rows, columns] = [axis(0), axis(1)];
  return tf.tensor4d(
    Float32Array.from({ length: out[0] * out[1] }, (_, i) => rows[Math.floor(i / out[1])]! * columns[i % out[1]]!),
    [1, out[0], out[1], 1],
  );
}

function pool(kind: 'max' | 'avg'): OpRun {
  return (node, [x]) => {
    const input = nhwc(x!);
    const kernel = ints(node, 'kernel_shape', []) as Pair;
    const strides = ints(node, 'strides', [1, 1]) as Pair;
    const dilations = ints(node, 'dilations', [1, 1]) as Pair;
    if (dilations.some((d) => d !== 1)) throw new Error(`${node.op} "${node.name}": dilated pooling is not mapped`);
    const pad = windowPadding(node, input, kernel, strides, dilations);
    if (kind === 'max') return spatial(tf.maxPool(input, kernel, strides, pad));
    if (pad.flat().every((p) => p === 0)) return spatial(tf.avgPool(input, kernel, strides, 'valid'));
    // TF.js's AvgPoolGrad divides by the whole window where its forward divided by the in-bounds part (4.22): sum over
    // explicit zero padding instead, and divide by ONNX's count.
    const sums = tf.mul(tf.avgPool(tf.pad(input, pad), kernel, strides, 'valid'), kernel[0] * kernel[1]);
    const [, outHeight, outWidth] = sums.shape;
    const [top, left, bottom, right] = explicitPads(node, [input.shape[1], input.shape[2]], kernel, strides, dilations);
    const includePad = attribute<number>(node, 'count_include_pad', 0) === 1;
    return spatial(
      tf.div(sums, windowCounts([input.shape[1], input.shape[2]], kernel, strides, [top, left, bottom, right], [outHeight!, outWidth!], includePad)),
    );
  };
}

/** Views get the shape gradlens infers for the batch at hand, in ONNX's layout. */
const view: OpRun = (node, [x], c) => flat(tf.reshape(plain(x!), [...c.shapes.get(node.outputs[0]!)!]));

const normalAxis = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

function softmax(log: boolean): OpRun {
  return (node, [x]) => {
    const input = plain(x!);
    const axis = normalAxis(attribute(node, 'axis', -1), input.rank);
    const apply = (t: tf.Tensor) => (log ? tf.logSoftmax(t) : tf.softmax(t));
    if (axis === input.rank - 1) return flat(apply(input));
    const perm = Array.from({ length: input.rank }, (_, i) => i)
      .filter((i) => i !== axis)
      .concat(axis);
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return flat(tf.transpose(apply(tf.transpose(input, perm)), inverse));
  };
}

/** x_original of output coordinate x (ONNX Resize, scale = out / in). */
function sourceCoordinate(x: number, inSize: number, outSize: number, transform: string): number {
  switch (transform) {
    case 'half_pixel':
      return ((x + 0.5) * inSize) / outSize - 0.5;
    case 'pytorch_half_pixel':
      return outSize > 1 ? ((x + 0.5) * inSize) / outSize - 0.5 : 0;
    case 'align_corners':
      return outSize === 1 ? 0 : (x * (inSize - 1)) / (outSize - 1);
    case 'asymmetric':
      return (x * inSize) / outSize;
    default:
      throw new Error(`Resize: coordinate_transformation_mode ${transform} is not mapped`);
  }
}

/** The [out, in] matrix of ONNX Resize along one axis: two linear taps (edges clamped) or one nearest tap per row. */
function interpolation(inSize: number, outSize: number, node: GraphNode): tf.Tensor2D {
  const mode = attribute<string>(node, 'mode', 'nearest');
  const transform = attribute<string>(node, 'coordinate_transformation_mode', 'half_pixel');
  const nearestMode = attribute<string>(node, 'nearest_mode', 'round_prefer_floor');
  const matrix = new Float32Array(outSize * inSize);
  const clamp = (i: number) => Math.min(Math.max(i, 0), inSize - 1);
  for (let o = 0; o < outSize; o++) {
    const source = sourceCoordinate(o, inSize, outSize, transform);
    if (mode === 'linear') {
      const at = Math.min(Math.max(source, 0), inSize - 1);
      const low = Math.floor(at);
      const add = (i: number, weight: number) => (matrix[o * inSize + i] = matrix[o * inSize + i]! + weight);
      add(low, 1 - (at - low));
      add(clamp(low + 1), at - low);
    } else if (mode === 'nearest') {
      const half = source - Math.floor(source) === 0.5;
      const pick = {
        round_prefer_floor: half ? Math.floor(source) : Math.round(source),
        round_prefer_ceil: half ? Math.ceil(source) : Math.round(source),
        floor: Math.floor(source),
        ceil: Math.ceil(source),
      }[nearestMode];
      if (pick === undefined) throw new Error(`Resize "${node.name}": nearest_mode ${nearestMode} is not mapped`);
      matrix[o * inSize + clamp(pick)] = 1;
    } else {
      throw new Error(`Resize "${node.name}": mode ${mode} is not mapped`);
    }
  }
  return tf.tensor2d(matrix, [outSize, inSize]);
}

/**
 * Resize as two matrix products, one per spatial axis. TF.js's own resize kernels cover fewer ONNX modes, and its
 * ResizeBilinearGrad ignores halfPixelCenters (4.22), so its gradient would not be the forward's.
 */
const resize: OpRun = (node, [x], c) => {
  const input = plain(x!);
  const [n, channels, height, width] = input.shape as number[];
  const [, , outHeight, outWidth] = c.shapes.get(node.outputs[0]!)! as number[];
  const planes = n! * channels!;
  const alongWidth = tf.matMul(tf.reshape(input, [planes * height!, width!]), interpolation(width!, outWidth!, node), false, true);
  const turned = tf.transpose(tf.reshape(alongWidth, [planes, height!, outWidth!]), [0, 2, 1]);
  const alongHeight = tf.matMul(tf.reshape(turned, [planes * outWidth!, height!]), interpolation(height!, outHeight!, node), false, true);
  return flat(tf.reshape(tf.transpose(tf.reshape(alongHeight, [planes, outWidth!, outHeight!]), [0, 2, 1]), [n!, channels!, outHeight!, outWidth!]));
};

const RUN: Record<string, OpRun> = {
  Conv: conv,
  Gemm: gemm,
  MatMul: matMul,
  Add: binary(tf.add),
  Sub: binary(tf.sub),
  Mul: binary(tf.mul),
  Div: binary(tf.div),
  BatchNormalization: (node, [x], c) => {
    const [gamma, beta, mean, variance] = node.inputs.slice(1).map((name) => c.weights.get(name)!);
    const epsilon = attribute(node, 'epsilon', 1e-5);
    if (x!.nhwc || x!.tensor.rank === 4) return spatial(tf.batchNorm(nhwc(x!), mean!, variance!, beta!, gamma!, epsilon));
    // Channels on axis 1: the per-channel parameters broadcast as [C, 1, ...].
    const trailing = Array(Math.max(x!.tensor.rank - 2, 0)).fill(1);
    const shaped = (t: tf.Tensor) => tf.reshape(t, [t.size, ...trailing]);
    return flat(tf.batchNorm(x!.tensor, shaped(mean!), shaped(variance!), shaped(beta!), shaped(gamma!), epsilon));
  },
  Relu: pointwise((x) => tf.relu(x)),
  LeakyRelu: pointwise((x, node) => tf.leakyRelu(x, attribute(node, 'alpha', 0.01))),
  Clip: pointwise((x, node, c) =>
    tf.clipByValue(x, clipBound(node, c, 1, 'min', -3.4028234663852886e38), clipBound(node, c, 2, 'max', 3.4028234663852886e38)),
  ),
  Sigmoid: pointwise((x) => tf.sigmoid(x)),
  Tanh: pointwise((x) => tf.tanh(x)),
  Gelu: pointwise((x, node) =>
    attribute<string>(node, 'approximate', 'none') === 'tanh'
      ? tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(GELU_TANH, tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))))
      : tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, SQRT_HALF)))),
  ),
  MaxPool: pool('max'),
  AveragePool: pool('avg'),
  GlobalAveragePool: (_node, [x]) => spatial(tf.mean(nhwc(x!), [1, 2], true)),
  Resize: resize,
  Identity: (_node, [x]) => x!,
  Dropout: (_node, [x]) => x!,
  Flatten: view,
  Reshape: view,
  Squeeze: view,
  Unsqueeze: view,
  Transpose: (node, [x]) => {
    const input = plain(x!);
    const perm = node.attributes.perm ? ints(node, 'perm', []) : Array.from({ length: input.rank }, (_, i) => input.rank - 1 - i);
    return flat(tf.transpose(input, perm));
  },
  Concat: (node, given) => {
    const inputs = given as Value[];
    const rank = inputs[0]!.nhwc ? 4 : inputs[0]!.tensor.rank;
    const axis = normalAxis(attribute(node, 'axis', 0), rank);
    if (rank === 4 && axis === 1 && inputs.every((v) => v.nhwc || v.tensor.rank === 4)) return spatial(tf.concat(inputs.map(nhwc), 3));
    return flat(tf.concat(inputs.map(plain), axis));
  },
  ReduceMean: (node, [x], c) => {
    const input = plain(x!);
    const given = node.inputs[1] ? Array.from(c.constant(node.inputs[1])!) : ints(node, 'axes', []);
    const axes = given.length === 0 ? Array.from({ length: input.rank }, (_, i) => i) : given.map((a) => normalAxis(a, input.rank));
    return flat(tf.mean(input, axes, attribute<number>(node, 'keepdims', 1) === 1));
  },
  Softmax: softmax(false),
  LogSoftmax: softmax(true),
  LayerNormalization: (node, [x, scale, bias]) => {
    const input = plain(x!);
    const axis = normalAxis(attribute(node, 'axis', -1), input.rank);
    const axes = Array.from({ length: input.rank - axis }, (_, i) => axis + i);
    const { mean, variance } = tf.moments(input, axes, true);
    const normalised = tf.mul(tf.sub(input, mean), tf.rsqrt(tf.add(variance, attribute(node, 'epsilon', 1e-5))));
    const scaled = tf.mul(normalised, plain(scale!));
    return flat(bias ? tf.add(scaled, plain(bias)) : scaled);
  },
};

/** Constants a node reads in a layout of TF.js's own, made once (outside any gradient tape). */
function prepareWeights(node: GraphNode, graph: Graph, weights: Map<string, tf.Tensor>): void {
  const constant = (i: number) => graph.constants.get(node.inputs[i] ?? '');
  if (node.op === 'Conv') {
    const weight = constant(1);
    if (!weight) throw new Error(`Conv "${node.name}": the weight must be a constant`);
    convWeights(node, weight.data, weight.shape).forEach((filter, g) => weights.set(`${node.name}:filter${g}`, filter));
    const bias = constant(2);
    if (bias) weights.set(`${node.name}:bias`, tf.tensor1d(bias.data));
    return;
  }
  if (node.op === 'Gemm') {
    const b = constant(1);
    if (b) weights.set(`${node.name}:b`, tf.tensor(b.data, [...b.shape]));
    const c = constant(2);
    const beta = attribute(node, 'beta', 1);
    if (c) weights.set(`${node.name}:c`, tf.tensor(beta === 1 ? c.data : c.data.map((v) => v * beta), [...c.shape]));
    return;
  }
  node.inputs.forEach((name, i) => {
    const data = constant(i);
    if (data && !weights.has(name)) weights.set(name, tf.tensor(data.data, [...data.shape]));
  });
}

/**
 * The graph on TF.js's active backend. `evaluate` runs what a wanted tensor needs from the given feeds (by tensor
 * name, ONNX layout), so tf.grad can differentiate the whole network or its part after an inner layer (Grad-CAM).
 */
export class TfjsGraph {
  private readonly weights = new Map<string, tf.Tensor>();
  private readonly shapes = new Map<number, Map<string, Shape>>();

  private constructor(readonly graph: Graph) {
    for (const node of graph.nodes) {
      if (!RUN[node.op]) throw new Error(`TfjsGraph: op ${node.op} ("${node.name}") is not mapped to TensorFlow.js`);
      prepareWeights(node, graph, this.weights);
    }
  }

  /** Weights go to the backend active now; make one per backend. */
  static create(source: Graph, options: TfjsGraphOptions = {}): TfjsGraph {
    return new TfjsGraph(options.foldBatchNorm === false ? source : foldBatchNorm(source));
  }

  /** The output (ONNX layout) for a batch `input` of shape [batch, ...graph.inputShape]. */
  forward(input: tf.Tensor): tf.Tensor {
    return this.evaluate(new Map([[this.graph.input, input]]), this.graph.output);
  }

  /** The tensor `wanted`, computing only the nodes it needs beyond `feeds` (each fed tensor replaces its producer). */
  evaluate(feeds: ReadonlyMap<string, tf.Tensor>, wanted: string): tf.Tensor {
    const batch = feeds.get(this.graph.input)?.shape[0] ?? [...feeds.values()][0]!.shape[0]!;
    const context: RunContext = {
      shapes: this.shapesFor(batch),
      weights: this.weights,
      constant: (name) => (name ? this.graph.constants.get(name)?.data : undefined),
    };
    const values = new Map<string, Value>([...feeds].map(([name, tensor]) => [name, flat(tensor)]));
    for (const node of this.needed(new Set(feeds.keys()), wanted)) {
      // Constants a node reads through its own prepared weights (Conv filters, Gemm's B) stay undefined here.
      const inputs = node.inputs.map((name) => values.get(name) ?? (this.weights.has(name) ? flat(this.weights.get(name)!) : undefined));
      values.set(node.outputs[0]!, RUN[node.op]!(node, inputs, context));
    }
    const result = values.get(wanted);
    if (!result) throw new Error(`TfjsGraph: nothing produces "${wanted}"`);
    return plain(result);
  }

  dispose(): void {
    for (const tensor of this.weights.values()) tensor.dispose();
    this.weights.clear();
  }

  private shapesFor(batch: number): Map<string, Shape> {
    let shapes = this.shapes.get(batch);
    if (!shapes) this.shapes.set(batch, (shapes = inferShapes(this.graph, batch)));
    return shapes;
  }

  /** Nodes between the feeds and `wanted`, in graph order. */
  private needed(fed: ReadonlySet<string>, wanted: string): GraphNode[] {
    const producers = new Map(this.graph.nodes.map((node) => [node.outputs[0]!, node]));
    const need = new Set<GraphNode>();
    const stack = [wanted];
    while (stack.length > 0) {
      const name = stack.pop()!;
      const node = producers.get(name);
      if (fed.has(name) || !node || need.has(node)) continue;
      need.add(node);
      stack.push(...node.inputs.filter((input) => input && !this.graph.constants.has(input)));
    }
    return this.graph.nodes.filter((node) => need.has(node));
  }
}
