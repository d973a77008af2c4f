// Rewrites an op's older or input-borne forms into the one the runtime declares (src/graph/ops), opsets 1–18:
// attributes where later opsets moved them to inputs and back, Softmax's coerce-to-2-D before opset 13.
import type { AttributeValue, Constant, Shape } from '../graph/ir.ts';
import { COORDINATE_TRANSFORMATION_MODES, NEAREST_MODES, RESIZE_MODES } from '../kernels/resize.ts';
import type { WorkNode } from './nodes.ts';
import type { TensorValue } from './tensor.ts';

export interface RewriteContext {
  opset: number;
  /** The tensor's shape at the first evaluated batch, when known. */
  shape(name: string): Shape | undefined;
  /** Its shape at each evaluated batch size, when known. */
  shapes(name: string): readonly Shape[] | undefined;
  /** A value known at load that does not depend on the batch size. */
  known(name: string): TensorValue | undefined;
  /** How many nodes read the tensor (the graph output counts as one). */
  readers(name: string): number;
  /** Adds a constant under a fresh name and returns the name. */
  constant(base: string, value: Constant): string;
  /** Records why a node cannot be run (it then counts as unsupported). */
  reject(node: WorkNode, reason: string): void;
}

const FLOAT_TYPES = new Set([1, 10, 11, 16]);

function withAxes(node: WorkNode, index: number, c: RewriteContext): WorkNode {
  const value = node.inputs[index] ? c.known(node.inputs[index]!) : undefined;
  if (!value) return node;
  return { ...node, inputs: node.inputs.slice(0, index), attributes: { ...node.attributes, axes: Array.from(value.data) } };
}

/** Softmax before opset 13 flattens to 2-D at `axis` (default 1): the last axis alone is the same as today's op. */
function coercedSoftmax(node: WorkNode, c: RewriteContext): WorkNode[] {
  const shape = c.shape(node.inputs[0]!);
  if (!shape) return [node];
  const rank = shape.length;
  const given = (node.attributes.axis as number | undefined) ?? 1;
  const axis = given < 0 ? given + rank : given;
  if (axis === rank - 1) return [{ ...node, attributes: { ...node.attributes, axis: -1 } }];
  // Flatten at `axis`, softmax over the last axis, reshape back to [−1, ...the dims after the batch].
  const dims = c.shapes(node.inputs[0]!)!.map((s) => s.slice(1).join(','));
  if (rank < 1 || new Set(dims).size > 1) {
    c.reject(node, `softmax before opset 13 over axis ${given} of a tensor whose dims after the batch change with it`);
    return [node];
  }
  const flat = `${node.outputs[0]}:flat`;
  const normalized = `${node.outputs[0]}:normalized`;
  const target = c.constant(`${node.name}.shape`, { shape: [rank], data: Float32Array.from([-1, ...shape.slice(1)]) });
  return [
    { name: `${node.name}:flatten`, op: 'Flatten', inputs: [node.inputs[0]!], outputs: [flat], attributes: { axis }, tensors: {} },
    { ...node, inputs: [flat], outputs: [normalized], attributes: { axis: -1 } },
    { name: `${node.name}:reshape`, op: 'Reshape', inputs: [normalized, target], outputs: [node.outputs[0]!], attributes: {}, tensors: {} },
  ];
}

function dropout(node: WorkNode, c: RewriteContext): WorkNode[] {
  if (node.outputs[1] && c.readers(node.outputs[1]) > 0) {
    c.reject(node, 'its mask output is read (gradlens runs dropout as the identity, at inference)');
    return [node];
  }
  if (c.opset >= 12 && node.inputs[2]) {
    const training = c.known(node.inputs[2]);
    const ratio = node.inputs[1] ? c.known(node.inputs[1]) : undefined;
    const identity = training?.data[0] === 0 || ratio?.data[0] === 0;
    if (!training || !identity) {
      c.reject(node, 'it runs in training mode (random); export the model in eval mode');
      return [node];
    }
  }
  return [{ ...node, op: 'Identity', inputs: [node.inputs[0]!], outputs: [node.outputs[0]!], attributes: {} }];
}

/** Resize as the kernel has it: nearest or linear on the spatial axes, output size = input size × scale exactly. */
function resize(node: WorkNode, c: RewriteContext, opset = c.opset): WorkNode[] {
  const rewritten = opset < 11 ? { ...node, inputs: [node.inputs[0]!, '', node.inputs[1] ?? ''] } : node; // opset 10: (X, scales)
  const a = node.attributes;
  const mode = (a.mode as string | undefined) ?? 'nearest';
  const transform = (a.coordinate_transformation_mode as string | undefined) ?? 'half_pixel';
  const nearest = (a.nearest_mode as string | undefined) ?? 'round_prefer_floor';
  const unsupported = [
    !(RESIZE_MODES as readonly string[]).includes(mode) && `mode "${mode}"`,
    !(COORDINATE_TRANSFORMATION_MODES as readonly string[]).includes(transform) && `coordinate_transformation_mode "${transform}"`,
    !(NEAREST_MODES as readonly string[]).includes(nearest) && `nearest_mode "${nearest}"`,
    (a.antialias as number | undefined) === 1 && 'antialias',
    a.axes !== undefined && 'axes',
    a.keep_aspect_ratio_policy !== undefined &&
      a.keep_aspect_ratio_policy !== 'stretch' &&
      `keep_aspect_ratio_policy "${a.keep_aspect_ratio_policy}"`,
  ].filter(Boolean);
  if (unsupported.length > 0) {
    c.reject(
      node,
      `${unsupported.join(', ')} not supported (modes: ${RESIZE_MODES.join(', ')}; transformations: ${COORDINATE_TRANSFORMATION_MODES.join(', ')})`,
    );
    return [rewritten];
  }
  const sizes = rewritten.inputs[3] ? c.known(rewritten.inputs[3]) : undefined;
  const scales = rewritten.inputs[2] ? c.known(rewritten.inputs[2]) : undefined;
  const shape = c.shape(rewritten.inputs[0]!);
  if ((!sizes || sizes.data.length === 0) && scales && shape && scales.data.length === shape.length) {
    const uneven = shape.some((dim, i) => i > 1 && !Number.isInteger(dim * scales.data[i]!));
    if (uneven)
      c.reject(node, `scales [${Array.from(scales.data)}] of [${shape}] give fractional sizes; gradlens resizes by out/in only (give sizes instead)`);
  }
  return [rewritten];
}

/**
 * Pad in one form for every opset: attributes (before 11) or inputs (pads, constant_value, and axes from 18) become
 * full-rank `pads` and `value` attributes. No padding at all is the identity; the rest is folded into the Conv or
 * pool that reads it (src/onnx/patterns.ts) or refused, as the runtime has no Pad.
 */
function pad(node: WorkNode, c: RewriteContext): WorkNode[] {
  const shape = c.shape(node.inputs[0]!);
  const fromInput = (index: number) => (node.inputs[index] ? c.known(node.inputs[index]!) : undefined);
  const given = c.opset < 11 ? (node.attributes.pads as number[] | undefined) : fromInput(1) && Array.from(fromInput(1)!.data);
  const value = c.opset < 11 ? ((node.attributes.value as number | undefined) ?? 0) : (fromInput(2)?.data[0] ?? 0);
  if (!given || !shape || (node.inputs[2] && !fromInput(2)) || (node.inputs[3] && !fromInput(3))) return [node];
  const rank = shape.length;
  const axes = node.inputs[3] ? Array.from(fromInput(3)!.data, (a) => (a < 0 ? a + rank : a)) : shape.map((_, i) => i);
  if (given.length !== 2 * axes.length || axes.some((a) => !(a >= 0 && a < rank))) {
    c.reject(node, `pads [${given}] do not fit rank ${rank}`);
    return [node];
  }
  const pads = new Array<number>(2 * rank).fill(0);
  axes.forEach((a, k) => {
    pads[a] = given[k]!;
    pads[a + rank] = given[k + axes.length]!;
  });
  if (pads.every((p) => p === 0)) return [{ ...node, op: 'Identity', inputs: [node.inputs[0]!], attributes: {} }];
  const mode = (node.attributes.mode as string | undefined) ?? 'constant';
  return [{ ...node, inputs: [node.inputs[0]!], attributes: { mode, pads, value } }];
}

/** Min, Max and Sum of n inputs as a chain of two-input nodes (Sum as Add); of one input, the identity. */
function variadic(node: WorkNode, op: string): WorkNode[] {
  const inputs = node.inputs.filter(Boolean);
  if (inputs.length === 1) return [{ ...node, op: 'Identity', inputs, attributes: {} }];
  const out = node.outputs[0]!;
  return inputs.slice(1).map((input, k) => {
    const last = k === inputs.length - 2;
    const name = last ? node.name : `${node.name}:${k + 1}`;
    return {
      name,
      op,
      inputs: [k === 0 ? inputs[0]! : `${out}:${k}`, input],
      outputs: [last ? out : `${out}:${k + 1}`],
      attributes: {},
      tensors: {},
    };
  });
}

/**
 * Upsample (opsets 7–9): Resize with Upsample's coordinates, out = ⌊in × scale⌋ sampled at in = out / scale
 * (asymmetric), nearest rounding down. Scales are an attribute at opset 7, input 1 from 9.
 */
function upsample(node: WorkNode, c: RewriteContext): WorkNode[] {
  const given = node.attributes.scales as number[] | undefined;
  const scales = given ? c.constant(`${node.name}.scales`, { shape: [given.length], data: Float32Array.from(given) }) : (node.inputs[1] ?? '');
  const mode = (node.attributes.mode as string | undefined) ?? 'nearest';
  const attributes = { mode, coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' };
  return resize({ ...node, op: 'Resize', inputs: [node.inputs[0]!, '', scales], attributes }, c, 11);
}

/**
 * Einsum of two operands in the forms attention and linear layers use (bhid,bhjd->bhij; bhij,bhjd->bhid;
 * bqhd,bkhd->bhqk; bid,dj->bij): shared batch indices in any order, one index contracted, one free index per operand
 * (or, against a weight without batch indices, several free indices on the left), as transposes around a MatMul.
 */
function einsum(node: WorkNode, c: RewriteContext): WorkNode[] {
  const equation = String(node.attributes.equation ?? '').replace(/\s/g, '');
  const parts = /^([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$/.exec(equation);
  const refuse = (why: string) => {
    c.reject(node, `equation "${equation}": ${why}`);
    return [node];
  };
  if (!parts || node.inputs.length !== 2) return refuse('two operands and an explicit output are supported (as bhid,bhjd->bhij)');
  const [a, b, out] = [parts[1]!, parts[2]!, parts[3]!];
  if ([a, b, out].some((term) => new Set(term).size !== term.length)) return refuse('an index repeated within one term (a diagonal)');
  const batch = [...out].filter((index) => a.includes(index) && b.includes(index));
  const contracted = [...a].filter((index) => b.includes(index) && !out.includes(index));
  const freeA = [...a].filter((index) => !b.includes(index));
  const freeB = [...b].filter((index) => !a.includes(index));
  if ([...freeA, ...freeB].some((index) => !out.includes(index)) || [...out].some((index) => !a.includes(index) && !b.includes(index))) {
    return refuse('an index summed within one operand, or an output index of neither');
  }
  if (contracted.length !== 1 || freeB.length !== 1 || freeA.length === 0 || (freeA.length > 1 && batch.length > 0)) {
    return refuse('one contracted index and one free index per operand are supported');
  }
  const out0 = node.outputs[0]!;
  const nodes: WorkNode[] = [];
  const transposed = (input: string, term: string, order: string[], tag: string) => {
    const perm = order.map((index) => term.indexOf(index));
    if (perm.every((p, i) => p === i)) return input;
    const name = `${out0}:${tag}`;
    nodes.push({ name: `${node.name}:${tag}`, op: 'Transpose', inputs: [input], outputs: [name], attributes: { perm }, tensors: {} });
    return name;
  };
  const left = transposed(node.inputs[0]!, a, [...batch, ...freeA, contracted[0]!], 'a');
  const right = transposed(node.inputs[1]!, b, [...batch, contracted[0]!, freeB[0]!], 'b');
  const product = [...batch, ...freeA, freeB[0]!].join('');
  const perm = [...out].map((index) => product.indexOf(index));
  const last = perm.every((p, i) => p === i);
  nodes.push({
    name: last ? node.name : `${node.name}:matmul`,
    op: 'MatMul',
    inputs: [left, right],
    outputs: [last ? out0 : `${out0}:product`],
    attributes: {},
    tensors: {},
  });
  if (!last) nodes.push({ name: node.name, op: 'Transpose', inputs: [`${out0}:product`], outputs: [out0], attributes: { perm }, tensors: {} });
  return nodes;
}

function batchNormalization(node: WorkNode, c: RewriteContext): WorkNode[] {
  if ((node.attributes.training_mode as number | undefined) === 1)
    c.reject(node, 'it runs in training mode (batch statistics); export the model in eval mode');
  else if ((node.attributes.spatial as number | undefined) === 0) c.reject(node, 'spatial = 0 (per-activation statistics) is not supported');
  return [node];
}

/** The node in the form the runtime declares; several nodes where one op becomes a sequence. */
export function normalise(node: WorkNode, c: RewriteContext): WorkNode[] {
  switch (node.op) {
    case 'Dropout':
      return dropout(node, c);
    case 'Softmax':
    case 'LogSoftmax':
      return c.opset < 13 ? coercedSoftmax(node, c) : [node];
    case 'Squeeze':
    case 'Unsqueeze':
      return [withAxes(node, 1, c)];
    case 'ReduceMean':
    case 'ReduceSum':
    case 'ReduceL2':
    case 'ReduceMax':
    case 'ReduceMin':
    case 'ReduceL1':
    case 'ReduceSumSquare': {
      // noop_with_empty_axes (ReduceSum from opset 13, the others from 18): no axes means no reduction.
      const rewritten = withAxes(node, 1, c);
      const axes = rewritten.attributes.axes as number[] | undefined;
      if ((node.attributes.noop_with_empty_axes as number | undefined) === 1 && (!axes || axes.length === 0) && !rewritten.inputs[1]) {
        return [{ ...node, op: 'Identity', inputs: [node.inputs[0]!], attributes: {} }];
      }
      return [rewritten];
    }
    case 'Resize':
      return resize(node, c);
    case 'Upsample':
      return upsample(node, c);
    case 'Einsum':
      return einsum(node, c);
    case 'BatchNormalization':
      return batchNormalization(node, c);
    case 'Pad':
      return pad(node, c);
    case 'Min':
    case 'Max':
      return variadic(node, node.op);
    case 'Sum':
      return variadic(node, 'Add');
    case 'Split':
      // Unread outputs are dropped later: how many parts there are is kept as opset 18 says it.
      return [{ ...node, attributes: { num_outputs: node.outputs.length, ...node.attributes } }];
    case 'Reshape': {
      // allowzero = 1 (opset 14) makes a 0 in the target a zero-size dim, which the runtime does not hold.
      const target = node.inputs[1] ? c.known(node.inputs[1]) : undefined;
      if ((node.attributes.allowzero as number | undefined) === 1 && target?.data.includes(0))
        c.reject(node, 'allowzero = 1 with a 0 in the target makes a zero-size tensor');
      return [node];
    }
    case 'Cast': {
      // The runtime is float32 throughout: a cast of an activation to a float type is the identity.
      const to = node.attributes.to as number | undefined;
      const input = node.inputs[0];
      if (input && to !== undefined && FLOAT_TYPES.has(to)) return [{ ...node, op: 'Identity', attributes: {} }];
      return [node];
    }
    default:
      return [node];
  }
}
