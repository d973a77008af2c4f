// Load-time evaluation of ops whose inputs are all known: the shape arithmetic exporters emit (Shape → Gather →
// Unsqueeze → Concat → Reshape, Slice, Cast, ...) and constant subgraphs. Small and exact: integers stay integers
// (float64 holds them to 2^53), integer Div truncates as ONNX's does.
import { GradlensError } from '../gpu/errors.ts';
import type { AttributeValue } from '../graph/ir.ts';
import { DATA_TYPES, elementCount, tensorValue, type TensorValue } from './tensor.ts';
import type { OnnxTensor } from './proto.ts';

/** Results larger than this are left to the runtime (or refused) rather than computed at load. */
export const FOLD_LIMIT = 1 << 20;

export interface FoldNode {
  name: string;
  op: string;
  attributes: Readonly<Record<string, AttributeValue>>;
  tensors: Readonly<Record<string, OnnxTensor>>;
}

/** Thrown when an op's result would be too large to compute at load. */
export class TooLarge extends Error {}

/** The budget is spent: the model is refused at once, not retried at other sizes. */
export class FoldBudgetSpent extends GradlensError {}

/** Elements all folds of one analysis may produce together, and the time they may take. */
export const FOLD_TOTAL = 1 << 23;
export const FOLD_MS = 10_000;

/**
 * The whole load's allowance for folding, so a chain of nodes each under FOLD_LIMIT cannot add up to gigabytes or
 * minutes: an honest model's shape arithmetic and constant subgraphs use a tiny part of it.
 */
export class FoldBudget {
  private elements = 0;
  private readonly started = performance.now();

  constructor(
    private readonly total = FOLD_TOTAL,
    private readonly milliseconds = FOLD_MS,
  ) {}

  /** Counts a folded result; throws BAD_MODEL once the total or the time is spent. */
  charge(node: { op: string; name: string }, count: number): void {
    this.elements += count;
    const over = this.elements > this.total ? `${this.elements} elements (at most ${this.total})` : undefined;
    const late = performance.now() - this.started > this.milliseconds ? `more than ${this.milliseconds / 1000} s` : undefined;
    if (over || late) {
      throw new FoldBudgetSpent(
        'BAD_MODEL',
        `computing the model's constant parts at load took ${over ?? late} by ${node.op} "${node.name}": ` +
          "far beyond any real network's shape arithmetic; the file is malformed or hostile",
      );
    }
  }
}

type Inputs = readonly (TensorValue | undefined)[];
type Evaluator = (inputs: Inputs, node: FoldNode, opset: number) => TensorValue;

const ints = (node: FoldNode, name: string): number[] | undefined => node.attributes[name] as number[] | undefined;
const int = (node: FoldNode, name: string, fallback: number): number => (node.attributes[name] as number | undefined) ?? fallback;

function bad(node: FoldNode, message: string): GradlensError {
  return new GradlensError('BAD_MODEL', `${node.op} "${node.name}": ${message}`);
}

function make(dtype: TensorValue['dtype'], shape: number[], fill: (i: number) => number): TensorValue {
  const count = elementCount(shape, 'a folded tensor');
  if (count > FOLD_LIMIT) throw new TooLarge();
  const data = dtype === 'float' ? new Float32Array(count) : new Float64Array(count);
  for (let i = 0; i < count; i++) data[i] = fill(i);
  return { dtype, shape, data };
}

function strides(shape: readonly number[]): number[] {
  const result = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) result[i] = result[i + 1]! * shape[i + 1]!;
  return result;
}

function axis(value: number, rank: number, node: FoldNode): number {
  const a = value < 0 ? value + rank : value;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw bad(node, `axis ${value} is outside rank ${rank}`);
  return a;
}

/** numpy broadcasting of several shapes. */
export function broadcast(shapes: readonly (readonly number[])[], node: FoldNode): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  return Array.from({ length: rank }, (_, i) => {
    let dim = 1;
    for (const s of shapes) {
      const d = s[s.length - rank + i] ?? 1;
      if (d !== 1 && dim !== 1 && d !== dim) throw bad(node, `cannot broadcast [${shapes.map((x) => `[${x}]`).join(', ')}]`);
      if (d !== 1) dim = d;
    }
    return dim;
  });
}

/**
 * The flat indices in `shape` that the output elements of a broadcast to `out` read, in output order: an odometer
 * over the output's coordinates (make() fills in order), so each element costs a few additions, not divisions.
 */
function broadcastCursor(shape: readonly number[], out: readonly number[]): () => number {
  const rank = out.length;
  const offset = rank - shape.length;
  const inStrides = strides(shape);
  const step = out.map((_, d) => (d < offset || shape[d - offset] === 1 ? 0 : inStrides[d - offset]!));
  const coordinate = new Array<number>(rank).fill(0);
  let index = 0;
  let started = false;
  return () => {
    if (started) {
      for (let d = rank - 1; d >= 0; d--) {
        index += step[d]!;
        if (++coordinate[d]! < out[d]!) break;
        index -= step[d]! * out[d]!;
        coordinate[d] = 0;
      }
    }
    started = true;
    return index;
  };
}

type Combine = (values: readonly number[]) => number;

function elementwise(inputs: readonly TensorValue[], node: FoldNode, dtype: TensorValue['dtype'], f: Combine): TensorValue {
  const out = broadcast(
    inputs.map((v) => v.shape),
    node,
  );
  const cursors = inputs.map((v) => broadcastCursor(v.shape, out));
  const values = inputs.map(() => 0);
  return make(dtype, out, () => {
    for (let k = 0; k < inputs.length; k++) values[k] = inputs[k]!.data[cursors[k]!()]!;
    return f(values);
  });
}

const need = (inputs: Inputs, count: number, node: FoldNode): TensorValue[] => {
  const present = inputs.slice(0, count);
  if (present.length < count || present.some((v) => !v)) throw bad(node, `needs ${count} inputs`);
  return present as TensorValue[];
};

function binary(f: (a: number, b: number, integer: boolean) => number, result?: TensorValue['dtype']): Evaluator {
  return (inputs, node) => {
    const [a, b] = need(inputs, 2, node);
    const integer = a!.dtype !== 'float';
    return elementwise([a!, b!], node, result ?? a!.dtype, ([x, y]) => f(x!, y!, integer));
  };
}

/** Min and Max: any number of broadcast operands. */
function variadic(f: (...values: number[]) => number): Evaluator {
  return (inputs, node) => {
    const present = inputs.filter((v): v is TensorValue => v !== undefined);
    if (present.length === 0) throw bad(node, 'needs an input');
    return elementwise(present, node, present[0]!.dtype, (values) => f(...values));
  };
}

function unary(f: (a: number) => number): Evaluator {
  return (inputs, node) => {
    const [a] = need(inputs, 1, node);
    return make(a!.dtype, a!.shape, (i) => f(a!.data[i]!));
  };
}

/** Axes from the attribute (older opsets) or the constant input `index` (newer ones). */
function axesOf(inputs: Inputs, node: FoldNode, index: number): number[] | undefined {
  const input = inputs[index];
  return input ? Array.from(input.data) : ints(node, 'axes');
}

function reshaped(value: TensorValue, shape: number[]): TensorValue {
  if (elementCount(shape, 'a reshaped tensor') !== value.data.length)
    throw new GradlensError('BAD_MODEL', `cannot reshape [${value.shape}] to [${shape}]`);
  return { ...value, shape };
}

/** ONNX Reshape's target: 0 copies the input's dim unless allowzero, −1 takes what is left. */
export function reshapeShape(input: readonly number[], requested: readonly number[], allowZero: boolean, node: FoldNode): number[] {
  const shape = requested.map((dim, i) => (dim === 0 && !allowZero ? input[i]! : dim));
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const total = input.reduce((a, b) => a * b, 1);
  const result = shape.map((d) => (d === -1 ? total / known : d));
  if (
    shape.filter((d) => d === -1).length > 1 ||
    !result.every((d) => Number.isInteger(d) && d >= 0) ||
    result.reduce((a, b) => a * b, 1) !== total
  ) {
    throw bad(node, `cannot reshape [${input}] to [${requested}]`);
  }
  return result;
}

function slice(inputs: Inputs, node: FoldNode, opset: number): TensorValue {
  const [data] = need(inputs, 1, node);
  const rank = data!.shape.length;
  const list = (index: number, attribute: string) =>
    opset >= 10 ? (inputs[index] ? Array.from(inputs[index]!.data) : undefined) : ints(node, attribute);
  const starts = list(1, 'starts');
  const ends = list(2, 'ends');
  if (!starts || !ends || starts.length !== ends.length) throw bad(node, 'needs starts and ends of one length');
  const axes = (list(3, 'axes') ?? starts.map((_, i) => i)).map((a) => axis(a, rank, node));
  const steps = opset >= 10 && inputs[4] ? Array.from(inputs[4].data) : starts.map(() => 1);
  const begin = data!.shape.map(() => 0);
  const step = data!.shape.map(() => 1);
  const shape = [...data!.shape];
  axes.forEach((a, k) => {
    const dim = data!.shape[a]!;
    const s = steps[k]!;
    if (!s) throw bad(node, 'a step of 0');
    const clamp = (v: number, low: number, high: number) => Math.min(Math.max(v < 0 ? v + dim : v, low), high);
    const first = s > 0 ? clamp(starts[k]!, 0, dim) : clamp(starts[k]!, -1, dim - 1);
    const last = s > 0 ? clamp(ends[k]!, 0, dim) : clamp(ends[k]!, -1, dim - 1);
    begin[a] = first;
    step[a] = s;
    shape[a] = Math.max(0, Math.ceil((last - first) / s));
  });
  const inStrides = strides(data!.shape);
  const outStrides = strides(shape);
  return make(data!.dtype, shape, (i) => {
    let index = 0;
    for (let d = 0; d < rank; d++) index += (begin[d]! + (Math.floor(i / outStrides[d]!) % shape[d]!) * step[d]!) * inStrides[d]!;
    return data!.data[index]!;
  });
}

function gather(inputs: Inputs, node: FoldNode): TensorValue {
  const [data, indices] = need(inputs, 2, node);
  const a = axis(int(node, 'axis', 0), data!.shape.length, node);
  const dim = data!.shape[a]!;
  const outer = data!.shape.slice(0, a).reduce((p, d) => p * d, 1);
  const inner = data!.shape.slice(a + 1).reduce((p, d) => p * d, 1);
  const shape = [...data!.shape.slice(0, a), ...indices!.shape, ...data!.shape.slice(a + 1)];
  const count = indices!.data.length;
  return make(data!.dtype, shape, (i) => {
    const o = Math.floor(i / (count * inner));
    const k = Math.floor(i / inner) % count;
    let index = indices!.data[k]!;
    if (index < 0) index += dim;
    if (!(index >= 0 && index < dim)) throw bad(node, `index ${indices!.data[k]} is outside [${-dim}, ${dim})`);
    return data!.data[(o * dim + index) * inner + (i % inner)]!;
  });
}

function concat(inputs: Inputs, node: FoldNode): TensorValue {
  const parts = inputs.filter((v): v is TensorValue => v !== undefined);
  if (parts.length === 0) throw bad(node, 'no inputs');
  const rank = parts[0]!.shape.length;
  const a = axis(int(node, 'axis', 0), rank, node);
  for (const part of parts) {
    if (part.shape.length !== rank || part.shape.some((d, i) => i !== a && d !== parts[0]!.shape[i]))
      throw bad(node, `shapes [${parts.map((p) => `[${p.shape}]`).join(', ')}] do not line up`);
  }
  const inner = parts[0]!.shape.slice(a + 1).reduce((p, d) => p * d, 1);
  const sizes = parts.map((p) => p.shape[a]! * inner);
  const rowSize = sizes.reduce((x, y) => x + y, 0);
  const shape = [...parts[0]!.shape];
  shape[a] = parts.reduce((sum, p) => sum + p.shape[a]!, 0);
  const dtype = parts.some((p) => p.dtype === 'float') ? 'float' : parts[0]!.dtype;
  return make(dtype, shape, (i) => {
    const row = Math.floor(i / rowSize);
    let within = i % rowSize;
    for (let k = 0; k < parts.length; k++) {
      if (within < sizes[k]!) return parts[k]!.data[row * sizes[k]! + within]!;
      within -= sizes[k]!;
    }
    return 0;
  });
}

function transpose(inputs: Inputs, node: FoldNode): TensorValue {
  const [x] = need(inputs, 1, node);
  const rank = x!.shape.length;
  const perm = ints(node, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  if (perm.length !== rank || new Set(perm).size !== rank || perm.some((p) => p < 0 || p >= rank)) throw bad(node, `perm [${perm}] for rank ${rank}`);
  const shape = perm.map((p) => x!.shape[p]!);
  const inStrides = strides(x!.shape);
  const outStrides = strides(shape);
  return make(x!.dtype, shape, (i) => {
    let index = 0;
    for (let d = 0; d < rank; d++) index += (Math.floor(i / outStrides[d]!) % shape[d]!) * inStrides[perm[d]!]!;
    return x!.data[index]!;
  });
}

function cast(inputs: Inputs, node: FoldNode): TensorValue {
  const [x] = need(inputs, 1, node);
  const to = DATA_TYPES[int(node, 'to', 0)];
  if (!to) throw bad(node, `cast to data type ${int(node, 'to', 0)}, which gradlens does not hold`);
  const convert = to.dtype === 'bool' ? (v: number) => (v ? 1 : 0) : to.dtype === 'int' ? Math.trunc : (v: number) => v;
  return make(to.dtype, [...x!.shape], (i) => convert(x!.data[i]!));
}

function constantOfShape(inputs: Inputs, node: FoldNode): TensorValue {
  const [shape] = need(inputs, 1, node);
  const value = node.tensors.value ? tensorValue(node.tensors.value) : { dtype: 'float' as const, data: new Float32Array([0]), shape: [1] };
  if (value.data.length !== 1) throw bad(node, 'value must hold one element');
  return make(value.dtype, Array.from(shape!.data), () => value.data[0]!);
}

function range(inputs: Inputs, node: FoldNode): TensorValue {
  const [start, limit, delta] = need(inputs, 3, node).map((v) => v.data[0]!);
  if (!delta) throw bad(node, 'delta 0');
  const count = Math.max(0, Math.ceil((limit! - start!) / delta!));
  return make(inputs[0]!.dtype, [count], (i) => start! + i * delta!);
}

function squeeze(inputs: Inputs, node: FoldNode): TensorValue {
  const [x] = need(inputs, 1, node);
  const axes = axesOf(inputs, node, 1)?.map((a) => axis(a, x!.shape.length, node));
  const shape = x!.shape.filter((d, i) => (axes ? !axes.includes(i) : d !== 1));
  if (axes?.some((a) => x!.shape[a] !== 1)) throw bad(node, `squeezes a dimension that is not 1 in [${x!.shape}]`);
  return reshaped(x!, shape);
}

function unsqueeze(inputs: Inputs, node: FoldNode): TensorValue {
  const [x] = need(inputs, 1, node);
  const axes = axesOf(inputs, node, 1);
  if (!axes) throw bad(node, 'no axes');
  const rank = x!.shape.length + axes.length;
  const normal = axes.map((a) => axis(a, rank, node));
  const shape: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) shape.push(normal.includes(i) ? 1 : x!.shape[k++]!);
  if (k !== x!.shape.length) throw bad(node, `repeated axes [${axes}]`);
  return reshaped(x!, shape);
}

function where(inputs: Inputs, node: FoldNode): TensorValue {
  const [condition, a, b] = need(inputs, 3, node);
  return elementwise([condition!, a!, b!], node, a!.dtype, ([c, x, y]) => (c ? x! : y!));
}

const SCATTER_REDUCTIONS: Readonly<Record<string, (old: number, update: number) => number>> = {
  none: (_, update) => update,
  add: (old, update) => old + update,
  mul: (old, update) => old * update,
  max: Math.max,
  min: Math.min,
};

/** ScatterND: data with the slices that indices [..., k] address replaced by (or reduced with) updates, in order. */
function scatterND(inputs: Inputs, node: FoldNode): TensorValue {
  const [data, indices, updates] = need(inputs, 3, node);
  const k = indices!.shape[indices!.shape.length - 1] ?? 0;
  const rank = data!.shape.length;
  const reduce = SCATTER_REDUCTIONS[(node.attributes.reduction as string | undefined) ?? 'none'];
  if (!reduce) throw bad(node, `reduction "${String(node.attributes.reduction)}"`);
  const expected = [...indices!.shape.slice(0, -1), ...data!.shape.slice(k)];
  if (k > rank || updates!.shape.join() !== expected.join()) throw bad(node, `updates [${updates!.shape}] do not fit [${expected}]`);
  const result = make(data!.dtype, [...data!.shape], (i) => data!.data[i]!);
  const dataStrides = strides(data!.shape);
  const slice = data!.shape.slice(k).reduce((p, d) => p * d, 1);
  for (let row = 0; row < indices!.data.length / Math.max(k, 1); row++) {
    let offset = 0;
    for (let d = 0; d < k; d++) {
      let index = indices!.data[row * k + d]!;
      if (index < 0) index += data!.shape[d]!;
      if (!(index >= 0 && index < data!.shape[d]!)) throw bad(node, `index ${indices!.data[row * k + d]} is outside axis ${d}`);
      offset += index * dataStrides[d]!;
    }
    for (let i = 0; i < slice; i++) result.data[offset + i] = reduce(result.data[offset + i]!, updates!.data[row * slice + i]!);
  }
  return result;
}

const divide = (a: number, b: number, integer: boolean) => (integer ? (b === 0 ? 0 : Math.trunc(a / b)) : a / b);

const EVALUATORS: Readonly<Record<string, Evaluator>> = {
  Gather: gather,
  Unsqueeze: unsqueeze,
  Squeeze: squeeze,
  Concat: concat,
  Slice: slice,
  Cast: cast,
  Reshape: (inputs, node) => {
    const [x, shape] = need(inputs, 2, node);
    return reshaped(x!, reshapeShape(x!.shape, Array.from(shape!.data), int(node, 'allowzero', 0) === 1, node));
  },
  Flatten: (inputs, node) => {
    const [x] = need(inputs, 1, node);
    const split = int(node, 'axis', 1) < 0 ? int(node, 'axis', 1) + x!.shape.length : int(node, 'axis', 1);
    if (split < 0 || split > x!.shape.length) throw bad(node, `axis ${int(node, 'axis', 1)} for rank ${x!.shape.length}`);
    const product = (dims: number[]) => dims.reduce((p, d) => p * d, 1);
    return reshaped(x!, [product(x!.shape.slice(0, split)), product(x!.shape.slice(split))]);
  },
  Transpose: transpose,
  Expand: (inputs, node) => {
    const [x, shape] = need(inputs, 2, node);
    const out = broadcast([x!.shape, Array.from(shape!.data)], node);
    const cursor = broadcastCursor(x!.shape, out);
    return make(x!.dtype, out, () => x!.data[cursor()]!);
  },
  ConstantOfShape: constantOfShape,
  Range: range,
  Where: where,
  ScatterND: scatterND,
  Add: binary((a, b) => a + b),
  Sub: binary((a, b) => a - b),
  Mul: binary((a, b) => a * b),
  Div: binary(divide),
  Pow: binary((a, b, integer) => (integer ? Math.trunc(a ** b) : a ** b)),
  Min: variadic(Math.min),
  Max: variadic(Math.max),
  Mod: binary((a, b, integer) => (integer ? a - b * Math.floor(a / b) : a % b)),
  Equal: binary((a, b) => Number(a === b), 'bool'),
  LessOrEqual: binary((a, b) => Number(a <= b), 'bool'),
  GreaterOrEqual: binary((a, b) => Number(a >= b), 'bool'),
  And: binary((a, b) => Number(a && b), 'bool'),
  Or: binary((a, b) => Number(a || b), 'bool'),
  Less: binary((a, b) => Number(a < b), 'bool'),
  Greater: binary((a, b) => Number(a > b), 'bool'),
  Not: unary((a) => Number(!a)),
  Neg: unary((a) => -a),
  Abs: unary(Math.abs),
  Sqrt: unary(Math.sqrt),
  Floor: unary(Math.floor),
  Ceil: unary(Math.ceil),
  Reciprocal: unary((a) => 1 / a),
};

export const FOLDABLE: ReadonlySet<string> = new Set(Object.keys(EVALUATORS));

/** One op on known inputs; throws TooLarge where the result would exceed FOLD_LIMIT elements. */
export function evaluate(node: FoldNode, inputs: Inputs, opset: number): TensorValue {
  const evaluator = EVALUATORS[node.op];
  if (!evaluator) throw new GradlensError('INTERNAL', `no load-time evaluator for ${node.op}`);
  return evaluator(inputs, node, opset);
}
