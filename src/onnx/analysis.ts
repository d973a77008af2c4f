import { GradlensError, isGradlensError } from '../gpu/errors.ts';
import type { Constant, GraphNode, Shape } from '../graph/ir.ts';
import { OPS } from '../graph/registry.ts';
import { batchBroadcast, concatOfBroadcasts, type ConcatPart } from './broadcast.ts';
import { FOLDABLE, TooLarge, broadcast, evaluate, reshapeShape, type FoldBudget } from './evaluate.ts';
import type { WorkNode } from './nodes.ts';
import { normalise, type RewriteContext } from './opsets.ts';
import { fuseGelu, fuseLayerNorm, fusePad } from './patterns.ts';
import { tensorValue, toConstant, type TensorValue } from './tensor.ts';
import { checkAxes } from './validate.ts';

/**
 * Ops the runtime lacks whose output has their input's shape (or the broadcast of their inputs'): analysis continues
 * past them, to the patterns that replace them or to the error that names them.
 */
const ELEMENTWISE = new Set([
  'Erf',
  'Sqrt',
  'Pow',
  'Exp',
  'Log',
  'Neg',
  'Abs',
  'Reciprocal',
  'Floor',
  'Ceil',
  'Sin',
  'Cos',
  'Softplus',
  'Elu',
  'Selu',
  'HardSigmoid',
  'HardSwish',
  'Mish',
  'PRelu',
  'Max',
  'Min',
  'Where',
  'Cast',
]);

/** A shape rule failed at the second batch size only: the model holds one batch size. */
export class FixedBatch extends Error {}

export interface Analysed {
  nodes: GraphNode[];
  constants: Map<string, Constant>;
  output: string;
}

const sameValue = (a: TensorValue, b: TensorValue) =>
  a === b ||
  (a.dtype === b.dtype && a.shape.join() === b.shape.join() && a.data.length === b.data.length && a.data.every((v, i) => Object.is(v, b.data[i])));

/**
 * One pass over the sorted nodes, at two batch sizes at once: what both batches give the same value is a constant;
 * what differs depends on the batch and may only reach a Reshape target (as 0 or −1) or Resize sizes (whose batch
 * entry the runtime replaces).
 */
export class Analysis {
  private readonly values = new Map<string, TensorValue[]>();
  private readonly shapes = new Map<string, Shape[]>();
  private readonly alias = new Map<string, string>();
  private readonly constants = new Map<string, Constant>();
  private readonly out: GraphNode[] = [];
  private readonly rejected = new Map<string, string>();
  private readonly readerCount = new Map<string, number>();
  /** Nodes reading a tensor whose shape is unknown (made by an unsupported op): their own support cannot be judged. */
  private readonly downstream = new Set<string>();

  constructor(
    private readonly batches: readonly number[],
    private readonly repair: boolean,
    private readonly opset: number,
    known: ReadonlyMap<string, TensorValue>,
    private readonly input: string,
    inputShape: Shape,
    private readonly output: string,
    private readonly nodes: readonly WorkNode[],
    private readonly budget: FoldBudget,
  ) {
    for (const [name, value] of known)
      this.values.set(
        name,
        batches.map(() => value),
      );
    this.shapes.set(
      input,
      batches.map((b) => [b, ...inputShape]),
    );
    for (const node of nodes) for (const name of node.inputs) if (name) this.readerCount.set(name, (this.readerCount.get(name) ?? 0) + 1);
    this.readerCount.set(output, (this.readerCount.get(output) ?? 0) + 1);
  }

  run(): Analysed {
    for (const node of this.nodes) this.visit({ ...node, inputs: node.inputs.map((name) => (name ? this.resolve(name) : name)) });
    const output = this.resolve(this.output);
    if (this.values.has(output)) throw new GradlensError('BAD_MODEL', `the output "${this.output}" does not depend on the input "${this.input}"`);
    if (output === this.input) throw new GradlensError('BAD_MODEL', `the output "${this.output}" is the input itself; there is nothing to explain`);
    const graph = { nodes: this.out, constants: this.constants, shapes: this.firstShapes(), output };
    fuseGelu(graph);
    fuseLayerNorm(graph);
    fusePad(graph);
    const nodes = dropUnread(prune(graph.nodes, output), output);
    this.checkSupported(nodes);
    if (!dependsOn(nodes, this.input, output))
      throw new GradlensError('BAD_MODEL', `the output "${this.output}" does not depend on the input "${this.input}"`);
    const used = new Set(nodes.flatMap((node) => node.inputs));
    return { nodes, constants: new Map([...this.constants].filter(([name]) => used.has(name))), output };
  }

  private resolve(name: string): string {
    return this.alias.get(name) ?? name;
  }

  private firstShapes(): Map<string, Shape> {
    const first = new Map<string, Shape>();
    for (const [name, shapes] of this.shapes) first.set(name, shapes[0]!);
    for (const [name, value] of this.values) first.set(name, value[0]!.shape);
    return first;
  }

  private shapesOf(name: string): Shape[] | undefined {
    const constant = this.constants.get(name);
    return this.shapes.get(name) ?? this.values.get(name)?.map((v) => v.shape) ?? (constant && this.batches.map(() => constant.shape));
  }

  private varies(name: string): boolean {
    const values = this.values.get(name)!;
    return values.some((v) => !sameValue(v, values[0]!));
  }

  private context(): RewriteContext {
    return {
      opset: this.opset,
      shape: (name) => this.shapesOf(name)?.[0],
      shapes: (name) => this.shapesOf(name),
      known: (name) => (this.values.has(name) && !this.varies(name) ? this.values.get(name)![0] : undefined),
      readers: (name) => this.readerCount.get(name) ?? 0,
      constant: (base, value) => this.addConstant(base, value),
      reject: (node, reason) => this.reject(node, reason),
    };
  }

  private reject(node: { op: string; name: string }, reason: string): void {
    this.rejected.set(node.name, `${node.op} "${node.name}": ${reason}`);
  }

  private addConstant(base: string, value: Constant): string {
    let name = base;
    for (let k = 1; this.constants.has(name) || this.values.has(name) || this.shapes.has(name); k++) name = `${base}_${k}`;
    this.constants.set(name, value);
    return name;
  }

  private visit(node: WorkNode): void {
    if (node.op === 'Constant') return this.constantNode(node);
    if (node.op === 'Shape' && node.inputs[0] && this.shapesOf(node.inputs[0])) return this.shapeNode(node);
    if (node.op === 'Size' && node.inputs[0] && this.shapesOf(node.inputs[0])) return this.sizeNode(node);
    const inputsKnown = node.inputs.every((name) => !name || this.values.has(name));
    if (FOLDABLE.has(node.op) && inputsKnown && node.inputs.length > 0 && this.fold(node)) return;
    for (const rewritten of normalise(node, this.context())) this.runtimeNode(rewritten);
  }

  private constantNode(node: WorkNode): void {
    const a = node.attributes;
    let value: TensorValue | undefined;
    if (node.tensors.value) value = tensorValue(node.tensors.value);
    else if (typeof a.value_float === 'number') value = { dtype: 'float', shape: [], data: Float32Array.of(a.value_float) };
    else if (Array.isArray(a.value_floats)) value = { dtype: 'float', shape: [a.value_floats.length], data: Float32Array.from(a.value_floats) };
    else if (typeof a.value_int === 'number') value = { dtype: 'int', shape: [], data: Float64Array.of(a.value_int) };
    else if (Array.isArray(a.value_ints)) value = { dtype: 'int', shape: [a.value_ints.length], data: Float64Array.from(a.value_ints) };
    if (!value)
      throw new GradlensError('UNSUPPORTED_OP', `Constant "${node.name}": only numeric tensor values are supported (not strings or sparse tensors)`);
    if (node.outputs[0])
      this.values.set(
        node.outputs[0],
        this.batches.map(() => value),
      );
  }

  private shapeNode(node: WorkNode): void {
    const shapes = this.shapesOf(node.inputs[0]!)!;
    const slice = (shape: Shape) => {
      const rank = shape.length;
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
      const start = clamp((node.attributes.start as number | undefined) ?? 0);
      const end = clamp((node.attributes.end as number | undefined) ?? rank);
      return shape.slice(start, Math.max(start, end));
    };
    const values = shapes.map((shape): TensorValue => {
      const dims = slice(shape);
      return { dtype: 'int', shape: [dims.length], data: Float64Array.from(dims) };
    });
    if (node.outputs[0]) this.values.set(node.outputs[0], values);
  }

  private sizeNode(node: WorkNode): void {
    const size = (shape: Shape): TensorValue => ({ dtype: 'int', shape: [], data: Float64Array.of(shape.reduce((a, b) => a * b, 1)) });
    const values = this.shapesOf(node.inputs[0]!)!.map(size);
    if (node.outputs[0]) this.values.set(node.outputs[0], values);
  }

  /** Evaluates the node at each batch size; false when the result is too large to fold (the runtime runs it). */
  private fold(node: WorkNode): boolean {
    const results: TensorValue[] = [];
    try {
      for (let b = 0; b < this.batches.length; b++) {
        const inputs = node.inputs.map((name) => (name ? this.values.get(name)![b] : undefined));
        results.push(evaluate({ name: node.name, op: node.op, attributes: node.attributes, tensors: node.tensors }, inputs, this.opset));
      }
    } catch (error) {
      if (error instanceof TooLarge) return false;
      if (isGradlensError(error)) throw error;
      throw new GradlensError('BAD_MODEL', `${node.op} "${node.name}" cannot be evaluated: ${(error as Error).message}`, { cause: error });
    }
    this.budget.charge(
      node,
      results.reduce((sum, value) => sum + value.data.length, 0),
    );
    if (node.outputs[0]) this.values.set(node.outputs[0], results);
    return true;
  }

  private runtimeNode(node: WorkNode): void {
    if (node.op === 'Identity' && node.outputs[0] !== this.output && node.inputs[0]) {
      this.alias.set(node.outputs[0]!, node.inputs[0]);
      return;
    }
    const broadcastConcat = node.op === 'Concat' && this.concatParts(node);
    if (broadcastConcat) {
      const constant = (base: string, value: TensorValue) => this.addConstant(base, toConstant(value));
      for (const rewritten of concatOfBroadcasts(node, broadcastConcat, constant)) this.runtimeNode(rewritten);
      return;
    }
    const inputs = node.inputs.map((name, index) => (name && this.values.has(name) ? this.bindKnown(node, name, index) : name));
    const emitted: GraphNode = { name: node.name, op: node.op, inputs, outputs: node.outputs, attributes: node.attributes };
    this.out.push(emitted);
    const shapes = inputs.map((name) => (name ? this.shapesOf(name) : this.batches.map(() => [] as Shape)));
    if (shapes.some((s) => !s)) this.downstream.add(node.name);
    if (this.rejected.has(node.name) || shapes.some((s) => !s)) return;
    const perBatch = this.batches.map((_, b) => shapes.map((s) => s![b]!));
    if (perBatch[0]![0]) checkAxes(emitted, perBatch[0]![0].length);
    let outputs: Shape[][] | undefined;
    if (OPS[node.op]) outputs = this.runtimeShapes(emitted, perBatch);
    else if (ELEMENTWISE.has(node.op)) {
      const fold = { name: node.name, op: node.op, attributes: node.attributes, tensors: {} };
      try {
        outputs = perBatch.map((s) => [
          broadcast(
            s.filter((_, i) => node.inputs[i]),
            fold,
          ),
        ]);
      } catch {
        outputs = undefined;
      }
    } else if (node.op === 'Pad' && Array.isArray(node.attributes.pads)) {
      const pads = node.attributes.pads as number[];
      if (perBatch.every(([x]) => pads.length === 2 * x!.length))
        outputs = perBatch.map(([x]) => [x!.map((dim, i) => dim + pads[i]! + pads[i + x!.length]!)]);
    }
    if (!outputs) return;
    node.outputs.forEach((name, i) => {
      if (!name) return;
      if (outputs[0]![i])
        this.shapes.set(
          name,
          outputs.map((o) => o[i]!),
        );
      else if ((this.readerCount.get(name) ?? 0) > 0) this.reject(node, `its output ${i} ("${name}") is read, and gradlens computes only output 0`);
    });
  }

  private runtimeShapes(node: GraphNode, perBatch: Shape[][]): Shape[][] | undefined {
    const constant = (index: number) => this.constants.get(node.inputs[index] ?? '')?.data;
    const results: Shape[][] = [];
    for (let b = 0; b < perBatch.length; b++) {
      try {
        results.push(OPS[node.op]!.shape(perBatch[b]!, node, constant));
      } catch (error) {
        if (b > 0) throw new FixedBatch();
        if (isGradlensError(error, 'UNSUPPORTED_OP')) {
          this.rejected.set(node.name, error.message);
          return undefined;
        }
        const message = isGradlensError(error) ? error.message : `${node.op} "${node.name}": ${(error as Error).message}`;
        throw new GradlensError('BAD_MODEL', `${message} (at the model's batch size ${this.batches[0]})`, { cause: error });
      }
    }
    // A move along an axis that carries the batch mixes samples; one only at other batch sizes (at batch 1 it may be
    // the identity) means the model holds at its own batch alone.
    const carrying = this.batchAxes(perBatch.map((inputs) => inputs[0] ?? []));
    const moves = perBatch.map((inputs) => (OPS[node.op]!.movedAxes?.(inputs, node, constant) ?? []).find((axis) => carrying.includes(axis)));
    if (moves[0] !== undefined) {
      this.reject(node, `it moves elements along the batch axis (axis ${moves[0]})`);
      return undefined;
    }
    if (moves.some((axis) => axis !== undefined)) throw new FixedBatch();
    return results;
  }

  /** The axes of a tensor that carry the batch: those whose extent follows it; axis 0 where one batch size is analysed. */
  private batchAxes(shapes: readonly Shape[]): number[] {
    if (shapes.length < 2) return [0];
    return shapes[0]!.flatMap((extent, d) => (shapes.some((shape) => shape[d] !== extent) ? [d] : []));
  }

  /**
   * A Concat's inputs where it joins batch tensors to samples repeated over the batch (a class token): each a batch
   * tensor's name and shape or the repeated sample; undefined for any other Concat.
   */
  private concatParts(node: WorkNode): ConcatPart[] | undefined {
    if (this.batches.length < 2 || !node.inputs.some((name) => name && this.values.has(name) && this.varies(name))) return undefined;
    const parts: ConcatPart[] = [];
    for (const name of node.inputs) {
      const sample = name && this.values.has(name) ? batchBroadcast(this.values.get(name)!, this.batches) : undefined;
      const shape = name && !this.values.has(name) ? this.shapesOf(name)?.[0] : undefined;
      if (sample) parts.push({ sample });
      else if (shape && this.isBatch(name, 0)) parts.push({ name, shape });
      else return undefined;
    }
    const rank = ('name' in parts[0]! ? parts[0].shape : parts[0]!.sample.shape).length;
    const axis = (node.attributes.axis as number | undefined) ?? 0;
    return parts.some((part) => 'name' in part) && (axis + rank) % rank !== 0 ? parts : undefined;
  }

  /** A known value read by a runtime node: a constant, or a batch-dependent value the op can still express. */
  private bindKnown(node: WorkNode, name: string, index: number): string {
    const values = this.values.get(name)!;
    if (!this.varies(name)) {
      if (this.repair && node.op === 'Reshape' && index === 1 && values[0]!.data[0] === this.batches[0] && this.isBatch(node.inputs[0], 0)) {
        const target = Float32Array.from(values[0]!.data, (v, i) => (i === 0 ? 0 : v));
        node.attributes = { ...node.attributes, allowzero: 0 };
        return this.addConstant(`${name}:batch`, { shape: [target.length], data: target });
      }
      if (!this.constants.has(name)) this.constants.set(name, toConstant(values[0]!));
      return name;
    }
    if (node.op === 'Reshape' && index === 1) {
      const data = node.inputs[0] ? this.shapesOf(node.inputs[0]) : undefined;
      const target =
        data &&
        batchReshape(
          values.map((v) => Array.from(v.data)),
          data,
          (node.attributes.allowzero as number | undefined) === 1,
          node,
        );
      if (target) {
        node.attributes = { ...node.attributes, allowzero: 0 };
        return this.addConstant(`${name}:batch`, { shape: [target.length], data: Float32Array.from(target) });
      }
    }
    if (node.op === 'Resize' && index === 3) {
      const differs = values[0]!.data.map((v, i) => Number(values.some((w) => w.data[i] !== v)));
      if (values.every((v) => v.data.length === 4) && differs.every((d, i) => !d || i === 0)) {
        return this.addConstant(`${name}:sizes`, toConstant(values[0]!)); // the runtime takes the batch from the plan
      }
    }
    this.reject(node, `input "${name}" depends on the batch size in a way gradlens cannot express`);
    return name;
  }

  /** Is dim `axis` of the tensor the batch (the batch size at each evaluated batch)? */
  private isBatch(name: string | undefined, axis: number): boolean {
    const shapes = name ? this.shapesOf(name) : undefined;
    return this.batches.length > 1 && shapes !== undefined && shapes.every((shape, b) => shape[axis] === this.batches[b]);
  }

  private checkSupported(nodes: readonly GraphNode[]): void {
    const missing = new Map<string, { count: number; example: string }>();
    const reasons = new Map<string, string>(); // one reason per op type: a model repeats the same one per layer
    const unsupported = nodes.filter((node) => !OPS[node.op] || this.rejected.has(node.name));
    const primary = unsupported.filter((node) => !this.downstream.has(node.name));
    const after = primary.length > 0 ? unsupported.filter((node) => this.downstream.has(node.name)) : [];
    for (const node of primary.length > 0 ? primary : unsupported) {
      const reason = this.rejected.get(node.name);
      const seen = missing.get(node.op);
      if (seen) seen.count++;
      else missing.set(node.op, { count: 1, example: node.name });
      if (reason && !reasons.has(node.op)) reasons.set(node.op, reason.replace(/\.$/, ''));
    }
    if (missing.size === 0) return;
    const list = [...missing].map(([op, { count, example }]) => `${op} ×${count} (e.g. "${example}")`).join('; ');
    const why = [...reasons.values()];
    const types = [...new Set(after.map((node) => node.op))].join(', ');
    const rest = after.length ? ` After them, ${after.length} nodes whose input shapes they decide could not be checked (${types}).` : '';
    throw new GradlensError(
      'UNSUPPORTED_OP',
      `unsupported ops: ${list}.${why.length ? ` ${why.join('. ')}.` : ''}${rest} Supported: ${Object.keys(OPS).sort().join(', ')}`,
    );
  }
}

/**
 * A Reshape target that changes with the batch, rewritten to hold at every batch: entries that follow the input's
 * dim at the same index become 0 (copy it), one other varying entry becomes −1. Undefined where neither fits.
 */
function batchReshape(targets: number[][], inputs: readonly Shape[], allowZero: boolean, node: WorkNode): number[] | undefined {
  const first = targets[0]!;
  if (targets.some((t) => t.length !== first.length)) return undefined;
  if (allowZero && first.includes(0)) return undefined;
  const result = [...first];
  const rest: number[] = [];
  first.forEach((_, i) => {
    if (targets.every((t) => t[i] === first[i])) return;
    if (inputs.every((shape, b) => shape[i] === targets[b]![i])) result[i] = 0;
    else rest.push(i);
  });
  if (rest.length > 1 || (rest.length === 1 && result.includes(-1))) return undefined;
  if (rest.length === 1) result[rest[0]!] = -1;
  const fold = { name: node.name, op: node.op, attributes: {}, tensors: {} };
  try {
    const same = inputs.every(
      (shape, b) => reshapeShape(shape, result, false, fold).join() === reshapeShape(shape, targets[b]!, allowZero, fold).join(),
    );
    return same ? result : undefined;
  } catch {
    return undefined;
  }
}

/** The nodes the output needs, in order: the loader's first step too, so what nothing reads is never folded. */
export function prune<Node extends { inputs: readonly string[]; outputs: readonly string[] }>(nodes: readonly Node[], output: string): Node[] {
  const needed = new Set([output]);
  const kept: Node[] = [];
  for (let k = nodes.length - 1; k >= 0; k--) {
    const node = nodes[k]!;
    if (!node.outputs.some((name) => needed.has(name))) continue;
    kept.push(node);
    for (const name of node.inputs) if (name) needed.add(name);
  }
  return kept.reverse();
}

/**
 * Outputs after the first that nothing reads become '' (not computed: the runtime gives most ops one output), and
 * trailing '' names go, so no node lists a tensor without a shape.
 */
function dropUnread(nodes: readonly GraphNode[], output: string): GraphNode[] {
  const read = new Set([output, ...nodes.flatMap((node) => node.inputs)]);
  const trim = (names: string[]) => {
    while (names.length > 1 && !names[names.length - 1]) names.pop();
    return names;
  };
  return nodes.map((node) => ({
    ...node,
    inputs: trim([...node.inputs]),
    outputs: trim(node.outputs.map((name, i) => (i > 0 && !read.has(name) ? '' : name))),
  }));
}

function dependsOn(nodes: readonly GraphNode[], input: string, output: string): boolean {
  const reached = new Set([input]);
  for (const node of nodes) if (node.inputs.some((name) => reached.has(name))) node.outputs.forEach((name) => reached.add(name));
  return reached.has(output);
}
