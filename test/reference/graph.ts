// A float64 interpreter of the graph IR built from the per-op references: the oracle for whole-network values and
// gradients, and (through finite differences of its forward) for the gradient rules themselves.
import type { Graph, GraphNode, Shape } from '../../src/graph/ir.ts';
import { attribute, sizeOf } from '../../src/graph/ir.ts';
import { inferShapes } from '../../src/graph/shapes.ts';
import * as activation from './activation.ts';
import * as binary from './binary.ts';
import * as channel from './channel.ts';
import * as conv from './conv2d.ts';
import * as gather from './gather.ts';
import * as gemm from './gemm.ts';
import { gemmDims, matmulDims } from '../../src/kernels/gemm.ts';
import { explicitPads, lifted } from '../../src/graph/ops/window.ts';
import * as pool from './pool.ts';
import * as resize from './resize.ts';
import * as tensor from './tensor.ts';
import * as layernorm from './layernorm.ts';
import * as softmax from './softmax.ts';

export type Rules = 'standard' | 'guided-backprop' | 'deconvnet';

export interface ReferenceOp {
  forward(inputs: Float64Array[], shapes: Shape[], node: GraphNode, outShape: Shape): Float64Array;
  /** Gradients of the inputs (undefined where none is defined, e.g. weights). */
  backward(
    inputs: Float64Array[],
    output: Float64Array,
    dy: Float64Array,
    shapes: Shape[],
    node: GraphNode,
    rules: Rules,
    outShape: Shape,
  ): (Float64Array | undefined)[];
}

const pointwise = (op: activation.Activation, params: (node: GraphNode, inputs: Float64Array[]) => activation.ActivationParams): ReferenceOp => ({
  forward: (inputs, _s, node, _o) => inputs[0]!.map((v) => activation.forward(op, v, params(node, inputs))),
  backward: (inputs, _y, dy, _s, node, rules) => [
    inputs[0]!.map((v, i) => activation.backward(op, v, dy[i]!, params(node, inputs), op === 'relu' ? rules : 'standard')),
  ],
});
const none = { alpha: 0, beta: 0 };
const view: ReferenceOp = { forward: ([x]) => x!.slice(), backward: (_i, _y, dy) => [dy.slice()] };

function softmaxOp(op: softmax.SoftmaxOp): ReferenceOp {
  const shapeOf = (shape: Shape, node: GraphNode): softmax.SoftmaxShape => {
    const axis = (attribute(node, 'axis', -1) + shape.length) % shape.length;
    return { outer: sizeOf(shape.slice(0, axis)), axis: shape[axis]!, inner: sizeOf(shape.slice(axis + 1)) };
  };
  return {
    forward: ([x], [shape], node) => softmax.softmaxForward(op, x!, shapeOf(shape!, node)),
    backward: (_i, y, dy, [shape], node) => [softmax.softmaxBackward(op, y, dy, shapeOf(shape!, node))],
  };
}

/** γ and β given per channel, or per group (GroupNormalization at opset 18): spread over the group's channels. */
function groupNorm(groupsOf: (node: GraphNode, shape: Shape) => number): ReferenceOp {
  const of = (inputs: Float64Array[], shape: Shape, node: GraphNode) => {
    const groups = groupsOf(node, shape);
    const channels = shape[1]!;
    const spread = (v: Float64Array) =>
      v.length === channels ? v : Float64Array.from({ length: channels }, (_, c) => v[Math.floor((c * groups) / channels)]!);
    return { s: { shape, groups, epsilon: attribute(node, 'epsilon', 1e-5) }, gamma: spread(inputs[1]!), beta: spread(inputs[2]!) };
  };
  return {
    forward: (inputs, [shape], node) => {
      const { s, gamma, beta } = of(inputs, shape!, node);
      return layernorm.groupNormForward(inputs[0]!, gamma, beta, s);
    },
    backward: (inputs, _y, dy, [shape], node) => {
      const { s, gamma } = of(inputs, shape!, node);
      return [layernorm.groupNormBackward(inputs[0]!, gamma, dy, s)];
    },
  };
}

const layerNormShape = (shape: Shape, node: GraphNode): layernorm.LayerNormShape => {
  const axis = (attribute(node, 'axis', -1) + shape.length) % shape.length;
  return { rows: sizeOf(shape.slice(0, axis)), size: sizeOf(shape.slice(axis)), epsilon: attribute(node, 'epsilon', 1e-5) };
};

function binaryOp(op: binary.BinaryOp): ReferenceOp {
  return {
    forward: ([a, b], [sa, sb]) => binary.binaryForward(op, { shape: sa!, data: a! }, { shape: sb!, data: b! }),
    backward: ([a, b], _y, dy, [sa, sb]) => {
      const { gradA, gradB } = binary.binaryBackward(op, { shape: sa!, data: a! }, { shape: sb!, data: b! }, dy);
      return [gradA, gradB];
    },
  };
}

const ints = (node: GraphNode, name: string, fallback: number[]) => [...attribute<readonly number[]>(node, name, fallback)];

function poolWindow(given: Shape, nodeGiven: GraphNode): [pool.PoolShape, pool.PoolWindow] {
  const { shape, node } = lifted(given, nodeGiven);
  const pads = ints(node, 'pads', [0, 0, 0, 0]);
  return [
    { batch: shape[0]!, channels: shape[1]!, height: shape[2]!, width: shape[3]! },
    {
      kernelShape: ints(node, 'kernel_shape', []) as [number, number],
      strides: ints(node, 'strides', [1, 1]) as [number, number],
      pads: pads as [number, number, number, number],
      dilations: ints(node, 'dilations', [1, 1]) as [number, number],
      ceilMode: attribute<number>(node, 'ceil_mode', 0) === 1,
    },
  ];
}

function resizeSpec(shape: Shape, outShape: Shape, node: GraphNode): resize.ResizeSpec {
  return {
    batch: shape[0]!,
    channels: shape[1]!,
    inHeight: shape[2]!,
    inWidth: shape[3]!,
    outHeight: outShape[2]!,
    outWidth: outShape[3]!,
    mode: attribute(node, 'mode', 'nearest') as resize.ResizeSpec['mode'],
    coordinateTransformationMode: attribute(
      node,
      'coordinate_transformation_mode',
      'half_pixel',
    ) as resize.ResizeSpec['coordinateTransformationMode'],
    nearestMode: attribute(node, 'nearest_mode', 'round_prefer_floor') as resize.ResizeSpec['nearestMode'],
  };
}

const batchNormParams = (inputs: Float64Array[], node: GraphNode): channel.BatchNormParams => ({
  gamma: inputs[1]!,
  beta: inputs[2]!,
  mean: inputs[3]!,
  variance: inputs[4]!,
  epsilon: attribute(node, 'epsilon', 1e-5),
});

const reduceAxes = (node: GraphNode, inputs: Float64Array[]) => (node.inputs[1] ? [...inputs[1]!] : ints(node, 'axes', []));
const reduction = (op: tensor.Reduction): ReferenceOp => ({
  forward: (inputs, [shape], node) => tensor.reduce(op, inputs[0]!, shape!, reduceAxes(node, inputs)),
  backward: (inputs, _y, dy, [shape], node) => [tensor.reduceBackward(op, inputs[0]!, dy, shape!, reduceAxes(node, inputs))],
});
const permOf = (node: GraphNode, rank: number) =>
  ints(
    node,
    'perm',
    Array.from({ length: rank }, (_, i) => rank - 1 - i),
  );

/** ConvTranspose's shape: the attributes' meaning is ONNX's (pads given here; output_shape is the loader's business). */
function convTransposeShape(xGiven: Shape, wGiven: Shape, nodeGiven: GraphNode): conv.ConvTransposeShape {
  const { shape: x, node } = lifted(xGiven, nodeGiven);
  const w = lifted(wGiven, nodeGiven).shape;
  const strides = ints(node, 'strides', [1, 1]) as [number, number];
  const dilations = ints(node, 'dilations', [1, 1]) as [number, number];
  const extra = ints(node, 'output_padding', [0, 0]);
  const pads = ints(node, 'pads', [0, 0, 0, 0]) as [number, number, number, number];
  const size = (a: 0 | 1) => strides[a] * (x[2 + a]! - 1) + extra[a]! + (w[2 + a]! - 1) * dilations[a] + 1 - pads[a]! - pads[a + 2]!;
  const group = attribute(node, 'group', 1);
  return {
    batch: x[0]!,
    inChannels: x[1]!,
    height: x[2]!,
    width: x[3]!,
    outPerGroup: w[1]!,
    kernelHeight: w[2]!,
    kernelWidth: w[3]!,
    strides,
    dilations,
    pads,
    group,
    outHeight: size(0),
    outWidth: size(1),
  };
}

function convShape(xGiven: Shape, wGiven: Shape, nodeGiven: GraphNode): conv.ConvShape {
  const { shape: x, node } = lifted(xGiven, nodeGiven);
  const w = lifted(wGiven, nodeGiven).shape;
  const strides = ints(node, 'strides', [1, 1]) as [number, number];
  const dilations = ints(node, 'dilations', [1, 1]) as [number, number];
  return {
    batch: x[0]!,
    inChannels: x[1]!,
    height: x[2]!,
    width: x[3]!,
    outChannels: w[0]!,
    kernelHeight: w[2]!,
    kernelWidth: w[3]!,
    strides,
    dilations,
    pads: explicitPads(node, [x[2]!, x[3]!], [w[2]!, w[3]!], strides, dilations),
    group: attribute(node, 'group', 1),
  };
}

/** Shape logic (which dims multiply) is taken from the kernel module; the arithmetic is the reference's own. */
function gemmCase(shapes: Shape[], node: GraphNode): gemm.GemmCase {
  const isGemm = node.op === 'Gemm';
  const d = isGemm
    ? gemmDims(shapes[0]!, shapes[1]!, attribute<number>(node, 'transA', 0) === 1, attribute<number>(node, 'transB', 0) === 1)
    : matmulDims(shapes[0]!, shapes[1]!);
  return {
    m: d.m,
    n: d.n,
    k: d.k,
    batch: d.batch ?? 1,
    transA: d.transA ?? false,
    transB: d.transB ?? false,
    alpha: isGemm ? attribute(node, 'alpha', 1) : 1,
    aBatchStride: d.aBatchStride ?? d.m * d.k,
    bBatchStride: d.bBatchStride ?? d.k * d.n,
    ...(isGemm && shapes[2] ? { biasShape: shapes[2] } : {}),
    beta: isGemm ? attribute(node, 'beta', 1) : 1,
    relu: false,
  };
}

const linear: ReferenceOp = {
  forward: (inputs, shapes, node) => gemm.gemmForward(gemmCase(shapes, node), inputs[0]!, inputs[1]!, inputs[2]),
  backward: (inputs, _y, dy, shapes, node) => {
    const { gradA, gradB } = gemm.gemmBackward(gemmCase(shapes, node), inputs[0]!, inputs[1]!, dy);
    return [gradA, gradB];
  },
};

/** An op that only moves elements (reference/gather.ts), from its shapes, constants and attributes. */
function moving(of: (shape: Shape, inputs: Float64Array[], node: GraphNode) => gather.Moved, value = (_node: GraphNode) => 0): ReferenceOp {
  return {
    forward: (inputs, [shape], node) => gather.forward(of(shape!, inputs, node), inputs[0]!, value(node)),
    backward: (inputs, _y, dy, [shape], node) => [gather.backward(of(shape!, inputs, node), dy, inputs[0]!.length)],
  };
}
const list = (data: Float64Array | undefined) => (data ? [...data] : undefined);

export const REFERENCE_OPS: Record<string, ReferenceOp> = {
  Slice: moving((shape, inputs, node) => {
    const starts = list(inputs[1]) ?? ints(node, 'starts', []);
    return gather.slice(
      shape,
      starts,
      list(inputs[2]) ?? ints(node, 'ends', []),
      list(inputs[3]) ??
        ints(
          node,
          'axes',
          starts.map((_, d) => d),
        ),
      list(inputs[4]) ?? starts.map(() => 1),
    );
  }),
  // Constant indices into an activation, or ids (the activation) into a constant table: their gradient is zero.
  Gather: {
    forward: (inputs, [shape], node) =>
      gather.forward(gather.gather(shape!, attribute(node, 'axis', 0), [...inputs[1]!], [inputs[1]!.length]), inputs[0]!),
    backward: (inputs, _y, dy, [shape], node) => {
      const moved = gather.gather(shape!, attribute(node, 'axis', 0), [...inputs[1]!], [inputs[1]!.length]);
      return [gather.backward(moved, dy, inputs[0]!.length), new Float64Array(inputs[1]!.length)];
    },
  },
  Expand: moving((shape, inputs) => gather.expand(shape, [...inputs[1]!])),
  Tile: moving((shape, inputs) => gather.tile(shape, [...inputs[1]!])),
  Pad: moving(
    (shape, _inputs, node) => gather.pad(shape, ints(node, 'pads', []), attribute(node, 'mode', 'constant') as 'constant'),
    (node) => attribute(node, 'value', 0),
  ),
  Conv: {
    forward: ([x, w, bias], [sx, sw], node) => conv.conv2d(convShape(sx!, sw!, node), x!, w!, bias),
    backward: ([, w], _y, dy, [sx, sw], node) => [conv.conv2dBackwardInput(convShape(sx!, sw!, node), dy, w!)],
  },
  ConvTranspose: {
    forward: ([x, w, bias], [sx, sw], node) => conv.convTranspose2d(convTransposeShape(sx!, sw!, node), x!, w!, bias),
    backward: ([, w], _y, dy, [sx, sw], node) => [conv.convTranspose2dBackwardInput(convTransposeShape(sx!, sw!, node), dy, w!)],
  },
  Gemm: linear,
  MatMul: linear,
  Add: binaryOp('add'),
  Sub: binaryOp('sub'),
  Mul: binaryOp('mul'),
  Div: binaryOp('div'),
  Min: binaryOp('min'),
  Max: binaryOp('max'),
  PRelu: binaryOp('prelu'),
  Where: {
    forward: ([c, a, b], [sc, sa, sb]) => binary.binaryForward('where', { shape: sa!, data: a! }, { shape: sb!, data: b! }, { shape: sc!, data: c! }),
    backward: ([c, a, b], _y, dy, [sc, sa, sb]) => {
      const { gradA, gradB } = binary.binaryBackward('where', { shape: sa!, data: a! }, { shape: sb!, data: b! }, dy, { shape: sc!, data: c! });
      return [undefined, gradA, gradB];
    },
  },
  BatchNormalization: {
    forward: (inputs, [shape], node) => channel.batchNormForward(inputs[0]!, shape!, batchNormParams(inputs, node)),
    backward: (inputs, _y, dy, [shape], node) => [channel.batchNormBackward(dy, shape!, batchNormParams(inputs, node))],
  },
  Transpose: {
    forward: ([x], [shape], node) => tensor.transpose(x!, shape!, permOf(node, shape!.length)),
    backward: (_i, _y, dy, [shape], node) => [tensor.transposeBackward(dy, shape!, permOf(node, shape!.length))],
  },
  Concat: {
    forward: (inputs, shapes, node) => tensor.concat(inputs, shapes, attribute(node, 'axis', 0)),
    backward: (_i, _y, dy, shapes, node) => tensor.concatBackward(dy, shapes, attribute(node, 'axis', 0)),
  },
  ReduceMean: reduction('mean'),
  ReduceSum: reduction('sum'),
  ReduceL2: reduction('l2'),
  ReduceMax: reduction('max'),
  ReduceMin: reduction('min'),
  ReduceL1: reduction('l1'),
  ReduceSumSquare: reduction('sum-square'),
  MaxPool: {
    forward: ([x], [shape], node) => pool.maxPool(x!, ...poolWindow(shape!, node)).y,
    backward: ([x], _y, dy, [shape], node) => [pool.maxPoolBackward(x!, dy, ...poolWindow(shape!, node))],
  },
  AveragePool: {
    forward: ([x], [shape], node) => pool.averagePool(x!, ...poolWindow(shape!, node), attribute<number>(node, 'count_include_pad', 0) === 1),
    backward: (_i, _y, dy, [shape], node) => [
      pool.averagePoolBackward(dy, ...poolWindow(shape!, node), attribute<number>(node, 'count_include_pad', 0) === 1),
    ],
  },
  GlobalAveragePool: {
    forward: ([x], [shape]) =>
      pool.globalAveragePool(x!, { batch: shape![0]!, channels: shape![1]!, height: 1, width: shape!.slice(2).reduce((p, q) => p * q, 1) }),
    backward: (_i, _y, dy, [shape]) => [
      pool.globalAveragePoolBackward(dy, { batch: shape![0]!, channels: shape![1]!, height: 1, width: shape!.slice(2).reduce((p, q) => p * q, 1) }),
    ],
  },
  Resize: {
    forward: ([x], [shape], node, outShape) => resize.resize(x!, resizeSpec(shape!, outShape, node)),
    backward: (_i, _y, dy, [shape], node, _rules, outShape) => [resize.resizeBackward(dy, resizeSpec(shape!, outShape, node))],
  },
  Relu: pointwise('relu', () => none),
  LeakyRelu: pointwise('leaky-relu', (node) => ({ alpha: attribute(node, 'alpha', 0.01), beta: 0 })),
  Clip: pointwise('clip', (node, inputs) => ({
    alpha: inputs[1]?.[0] ?? attribute(node, 'min', -3.4e38),
    beta: inputs[2]?.[0] ?? attribute(node, 'max', 3.4e38),
  })),
  Sigmoid: pointwise('sigmoid', () => none),
  Tanh: pointwise('tanh', () => none),
  Gelu: pointwise('gelu-erf', () => none),
  HardSigmoid: pointwise('hard-sigmoid', (node) => ({ alpha: attribute(node, 'alpha', 0.2), beta: attribute(node, 'beta', 0.5) })),
  HardSwish: pointwise('hard-swish', () => none),
  Sqrt: pointwise('sqrt', () => none),
  Exp: pointwise('exp', () => none),
  Log: pointwise('log', () => none),
  Neg: pointwise('neg', () => none),
  Abs: pointwise('abs', () => none),
  Reciprocal: pointwise('reciprocal', () => none),
  Erf: pointwise('erf', () => none),
  Pow: pointwise('pow', (_node, inputs) => ({ alpha: inputs[1]![0]!, beta: 0 })),
  Softplus: pointwise('softplus', () => none),
  Elu: pointwise('elu', (node) => ({ alpha: attribute(node, 'alpha', 1), beta: 0 })),
  Selu: pointwise('selu', (node) => ({
    alpha: attribute(node, 'alpha', 1.67326319217681884765625),
    beta: attribute(node, 'gamma', 1.05070102214813232421875),
  })),
  Mish: pointwise('mish', () => none),
  Identity: view,
  Flatten: view,
  Reshape: view,
  Squeeze: view,
  Unsqueeze: view,
  Dropout: view,
  Softmax: softmaxOp('softmax'),
  LogSoftmax: softmaxOp('log-softmax'),
  InstanceNormalization: groupNorm((_node, shape) => shape[1]!),
  GroupNormalization: groupNorm((node) => attribute(node, 'num_groups', 1)),
  LayerNormalization: {
    forward: ([x, scale, bias], [shape], node) => Float64Array.from(layernorm.layerNormForward(x!, scale!, bias, layerNormShape(shape!, node)).y),
    backward: ([x, scale, bias], _y, dy, [shape], node) => {
      const s = layerNormShape(shape!, node);
      const { mean, invStdDev } = layernorm.layerNormForward(x!, scale!, bias, s);
      return [layernorm.layerNormBackward(x!, scale!, mean, invStdDev, dy, s)];
    },
  },
};

/** Every tensor's value for one forward pass in float64. */
/** Every tensor's value; a tensor in `replace` takes the given value instead of its node's (a layer method's injection). */
export function referenceForward(
  graph: Graph,
  input: ArrayLike<number>,
  batch: number,
  replace: ReadonlyMap<string, ArrayLike<number>> = new Map(),
): Map<string, Float64Array> {
  const shapes = inferShapes(graph, batch);
  const values = new Map<string, Float64Array>([[graph.input, Float64Array.from(input)]]);
  for (const [name, constant] of graph.constants) values.set(name, Float64Array.from(constant.data));
  for (const node of graph.nodes) {
    const op = REFERENCE_OPS[node.op];
    if (!op) throw new Error(`no reference for ${node.op}`);
    const inputs = node.inputs.map((name) => values.get(name)!);
    const replaced = replace.get(node.outputs[0]!);
    if (replaced) {
      values.set(node.outputs[0]!, Float64Array.from(replaced));
      continue;
    }
    values.set(
      node.outputs[0]!,
      op.forward(
        inputs,
        node.inputs.map((n) => shapes.get(n)!),
        node,
        shapes.get(node.outputs[0]!)!,
      ),
    );
  }
  return values;
}

/** A rule set's own backward of a node (DeepLift's multipliers), or undefined where the op's ordinary one applies. */
export type CustomBackward = (
  node: GraphNode,
  inputs: Float64Array[],
  output: Float64Array,
  dy: Float64Array,
  shapes: Shape[],
) => Float64Array[] | undefined;

/** Gradients of Σ seed ⊙ output with respect to every tensor that depends on the input (reverse mode, float64). */
export function referenceGradients(
  graph: Graph,
  values: Map<string, Float64Array>,
  seed: ArrayLike<number>,
  batch: number,
  rules: Rules = 'standard',
  custom?: CustomBackward,
): Map<string, Float64Array> {
  const shapes = inferShapes(graph, batch);
  const depends = new Set([graph.input]);
  for (const node of graph.nodes) if (node.inputs.some((n) => depends.has(n))) depends.add(node.outputs[0]!);
  const gradients = new Map<string, Float64Array>([[graph.output, Float64Array.from(seed)]]);
  for (const node of [...graph.nodes].reverse()) {
    const dy = gradients.get(node.outputs[0]!);
    if (!dy) continue;
    const inputs = node.inputs.map((name) => values.get(name)!);
    const shapesIn = node.inputs.map((n) => shapes.get(n)!);
    const output = values.get(node.outputs[0]!)!;
    const parts =
      custom?.(node, inputs, output, dy, shapesIn) ??
      REFERENCE_OPS[node.op]!.backward(inputs, output, dy, shapesIn, node, rules, shapes.get(node.outputs[0]!)!);
    node.inputs.forEach((name, i) => {
      const part = parts[i];
      if (!part || !depends.has(name)) return;
      const sum = gradients.get(name);
      gradients.set(name, sum ? sum.map((v, j) => v + part[j]!) : part);
    });
  }
  return gradients;
}
