// Subgraphs that exporters emit for ops older opsets lack, fused back into the op: GELU, erf and tanh forms (torch before opset 20),
// LayerNorm (torch before opset 17), and a zero Pad in front of a Conv or an AveragePool (torch's F.pad and
// AvgPool2d(padding, count_include_pad=True)). A match needs every intermediate read by the pattern alone.
import type { AttributeValue, Constant, GraphNode, Shape } from '../graph/ir.ts';

export interface PatternGraph {
  nodes: GraphNode[];
  constants: Map<string, Constant>;
  /** Shapes at one batch size: the LayerNorm match needs ranks. */
  shapes: ReadonlyMap<string, Shape>;
  output: string;
}

/**
 * Producers and readers of each tensor, kept up to date as matches are replaced, so a pass over the graph is linear
 * in its size however many matches it makes (a 2 000-GELU chain took a minute when each match re-indexed).
 */
class Index {
  readonly producer = new Map<string, GraphNode>();
  readonly readers = new Map<string, GraphNode[]>();
  private readonly slots: (GraphNode | undefined)[];
  private readonly position = new Map<GraphNode, number>();

  constructor(readonly graph: PatternGraph) {
    this.slots = [...graph.nodes];
    graph.nodes.forEach((node, k) => this.add(node, k));
  }

  private add(node: GraphNode, k: number): void {
    this.position.set(node, k);
    this.slots[k] = node;
    for (const name of node.outputs) this.producer.set(name, node);
    for (const name of node.inputs) {
      if (!name) continue;
      const readers = this.readers.get(name);
      if (readers) readers.push(node);
      else this.readers.set(name, [node]);
    }
  }

  private remove(node: GraphNode): void {
    this.slots[this.position.get(node)!] = undefined;
    this.position.delete(node);
    for (const name of node.outputs) if (this.producer.get(name) === node) this.producer.delete(name);
    for (const name of new Set(node.inputs)) {
      const readers = this.readers.get(name);
      if (readers)
        this.readers.set(
          name,
          readers.filter((reader) => reader !== node),
        );
    }
  }

  /** Is the node still in the graph (not replaced by an earlier match)? */
  alive(node: GraphNode): boolean {
    return this.position.has(node);
  }

  /** Replaces `matched` nodes by `fused`, placed where the last of them was (its inputs all come earlier). */
  replace(matched: readonly GraphNode[], fused: GraphNode): void {
    const last = Math.max(...matched.map((node) => this.position.get(node)!));
    for (const node of matched) this.remove(node);
    this.add(fused, last);
  }

  /** Writes the pass's result back to the graph. */
  finish(): void {
    this.graph.nodes = this.slots.filter((node): node is GraphNode => node !== undefined);
  }

  /** The one node that reads `name`, if it is the only reader and `name` is not the graph's output. */
  soleReader(name: string, op: string): GraphNode | undefined {
    const readers = this.readers.get(name) ?? [];
    return readers.length === 1 && readers[0]!.op === op && name !== this.graph.output ? readers[0] : undefined;
  }

  producedBy(name: string, op: string): GraphNode | undefined {
    const node = this.producer.get(name);
    return node?.op === op ? node : undefined;
  }

  scalar(name: string | undefined): number | undefined {
    const constant = name ? this.graph.constants.get(name) : undefined;
    return constant?.data.length === 1 ? constant.data[0] : undefined;
  }

  /** For a two-input node, the input other than `name`, when `name` is one of them. */
  other(node: GraphNode, name: string): string | undefined {
    if (node.inputs.length !== 2) return undefined;
    if (node.inputs[0] === name) return node.inputs[1];
    if (node.inputs[1] === name) return node.inputs[0];
    return undefined;
  }
}

const near = (value: number | undefined, target: number) => value !== undefined && Math.abs(value - target) <= 1e-4 * Math.abs(target);

/** The head of erf-GELU: erf(x/√2), by Div by √2 or Mul by 1/√2; x and the nodes up to the Erf. */
function erfHead(index: Index, erf: GraphNode): { x: string; nodes: GraphNode[] } | undefined {
  const scaled = erf.inputs[0]!;
  const div = index.producedBy(scaled, 'Div');
  const mul = index.producedBy(scaled, 'Mul');
  let x: string | undefined;
  if (div && near(index.scalar(div.inputs[1]), Math.SQRT2)) x = div.inputs[0];
  else if (mul) x = mul.inputs.find((name) => near(index.scalar(index.other(mul, name)), Math.SQRT1_2));
  const first = div ?? mul;
  if (!x || !first || index.soleReader(scaled, 'Erf') !== erf) return undefined;
  return { x, nodes: [first, erf] };
}

/** x³ as exported: Pow(x, 3), x·(x·x) or (x·x)·x, read by `reader` alone. */
function cube(index: Index, name: string, x: string, reader: GraphNode): GraphNode[] | undefined {
  if (index.soleReader(name, reader.op) !== reader) return undefined;
  const pow = index.producedBy(name, 'Pow');
  if (pow) return pow.inputs[0] === x && index.scalar(pow.inputs[1]) === 3 ? [pow] : undefined;
  const outer = index.producedBy(name, 'Mul');
  const square = outer && index.producedBy(index.other(outer, x) ?? '', 'Mul');
  const isSquare = square && square.inputs[0] === x && square.inputs[1] === x && index.soleReader(square.outputs[0]!, 'Mul') === outer;
  return isSquare ? [square, outer] : undefined;
}

/** The head of tanh-GELU: tanh(√(2/π)·(x + 0.044715·x³)), factors in either order; x and the nodes up to the Tanh. */
function tanhHead(index: Index, tanh: GraphNode): { x: string; nodes: GraphNode[] } | undefined {
  const scaled = index.producedBy(tanh.inputs[0]!, 'Mul');
  if (!scaled || index.soleReader(tanh.inputs[0]!, 'Tanh') !== tanh) return undefined;
  const inner = scaled.inputs.find((name) => near(index.scalar(index.other(scaled, name)), Math.sqrt(2 / Math.PI)));
  const add = inner !== undefined ? index.producedBy(inner, 'Add') : undefined;
  if (!add || index.soleReader(inner!, 'Mul') !== scaled) return undefined;
  for (const x of add.inputs) {
    const term = index.producedBy(index.other(add, x) ?? '', 'Mul');
    const cubed = term?.inputs.find((name) => near(index.scalar(index.other(term, name)), 0.044715));
    const powers = term && cubed !== undefined && index.soleReader(term.outputs[0]!, 'Add') === add ? cube(index, cubed, x, term) : undefined;
    if (powers) return { x, nodes: [...powers, term!, add, scaled, tanh] };
  }
  return undefined;
}

/**
 * The tail both GELUs share: s = 1 + f (Add 1 in either order), then x·½·s with the three factors multiplied in any
 * order and grouping; the nodes from the Add on, the last writing the result.
 */
function halfProduct(index: Index, x: string, f: GraphNode): GraphNode[] | undefined {
  const add = index.soleReader(f.outputs[0]!, 'Add');
  if (!add || !near(index.scalar(index.other(add, f.outputs[0]!)), 1)) return undefined;
  const onePlus = add.outputs[0]!;
  const product = index.soleReader(onePlus, 'Mul');
  if (!product) return undefined;
  const partner = index.other(product, onePlus)!;
  if (partner === x) {
    const half = index.soleReader(product.outputs[0]!, 'Mul'); // (x·s)·½
    return half && near(index.scalar(index.other(half, product.outputs[0]!)), 0.5) ? [add, product, half] : undefined;
  }
  if (near(index.scalar(partner), 0.5)) {
    const outer = index.soleReader(product.outputs[0]!, 'Mul'); // x·(s·½)
    return outer && index.other(outer, product.outputs[0]!) === x ? [add, product, outer] : undefined;
  }
  const halfX = index.producedBy(partner, 'Mul'); // (x·½)·s
  const fits = halfX && index.soleReader(partner, 'Mul') === product && index.other(halfX, x) !== undefined;
  return fits && near(index.scalar(index.other(halfX, x)), 0.5) ? [halfX, add, product] : undefined;
}

/**
 * x·½·(1 + erf(x/√2)) → Gelu(x), and x·½·(1 + tanh(√(2/π)(x + 0.044715x³))) → Gelu(x, approximate = 'tanh'), as
 * torch exports GELU before opset 20 (and approximate='tanh', or the hand-written form of BERT and GPT-2 code).
 */
export function fuseGelu(graph: PatternGraph): void {
  const index = new Index(graph);
  for (const f of graph.nodes.filter((node) => node.op === 'Erf' || node.op === 'Tanh')) {
    if (!index.alive(f)) continue;
    const head = f.op === 'Erf' ? erfHead(index, f) : tanhHead(index, f);
    const tail = head && halfProduct(index, head.x, f);
    if (!head || !tail) continue;
    const attributes: Record<string, AttributeValue> = f.op === 'Tanh' ? { approximate: 'tanh' } : {};
    const output = tail[tail.length - 1]!.outputs[0]!;
    index.replace([...head.nodes, ...tail], { name: `${f.name}:gelu`, op: 'Gelu', inputs: [head.x], outputs: [output], attributes });
  }
  index.finish();
}

const axesOf = (node: GraphNode, rank: number): number[] | undefined => {
  const axes = node.attributes.axes as readonly number[] | undefined;
  if (node.inputs[1] || (node.attributes.keepdims as number | undefined) === 0) return undefined;
  return (axes ?? Array.from({ length: rank }, (_, i) => i)).map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
};

/** A per-element affine constant (γ or β) for the trailing dims `dims`: equal dims, right-aligned, leading ones. */
function affine(constant: Constant | undefined, dims: Shape): boolean {
  if (!constant) return false;
  const shape = constant.shape;
  const extra = shape.length - dims.length;
  return shape.every((d, i) => (i < extra ? d === 1 : d === dims[i - extra])) && constant.data.length === dims.reduce((a, b) => a * b, 1);
}

/**
 * ReduceMean, Sub, Pow 2, ReduceMean, Add ε, Sqrt, Div (then Mul γ, Add β) over the trailing axes →
 * LayerNormalization(axis = −k).
 */
export function fuseLayerNorm(graph: PatternGraph): void {
  const index = new Index(graph);
  for (const mean of graph.nodes.filter((node) => node.op === 'ReduceMean')) {
    if (!index.alive(mean)) continue;
    const x = mean.inputs[0]!;
    const shape = graph.shapes.get(x);
    if (!shape) continue;
    const rank = shape.length;
    const axes = axesOf(mean, rank);
    if (!axes || axes.length === 0 || axes.some((a, i) => a !== rank - axes.length + i)) continue;
    const centre = index.soleReader(mean.outputs[0]!, 'Sub');
    if (!centre || centre.inputs[0] !== x || centre.inputs[1] !== mean.outputs[0]) continue;
    const d = centre.outputs[0]!;
    const readers = index.readers.get(d) ?? [];
    const pow = readers.find((node) => node.op === 'Pow');
    const div = readers.find((node) => node.op === 'Div');
    if (readers.length !== 2 || !pow || !div || d === graph.output || pow.inputs[0] !== d || index.scalar(pow.inputs[1]) !== 2 || div.inputs[0] !== d)
      continue;
    const variance = index.soleReader(pow.outputs[0]!, 'ReduceMean');
    const varianceAxes = variance && axesOf(variance, rank);
    if (!variance || !varianceAxes || varianceAxes.join() !== axes.join()) continue;
    const addEpsilon = index.soleReader(variance.outputs[0]!, 'Add');
    const epsilon = addEpsilon && index.scalar(index.other(addEpsilon, variance.outputs[0]!));
    if (!addEpsilon || epsilon === undefined) continue;
    const sqrt = index.soleReader(addEpsilon.outputs[0]!, 'Sqrt');
    if (!sqrt || index.soleReader(sqrt.outputs[0]!, 'Div') !== div || div.inputs[1] !== sqrt.outputs[0]) continue;
    const matched = [mean, centre, pow, variance, addEpsilon, sqrt, div];
    const dims = shape.slice(rank - axes.length);
    let end = div;
    let scale: string | undefined;
    let bias: string | undefined;
    const scaleNode = index.soleReader(div.outputs[0]!, 'Mul');
    const gamma = scaleNode && index.other(scaleNode, div.outputs[0]!);
    if (scaleNode && gamma && affine(graph.constants.get(gamma), dims)) {
      matched.push(scaleNode);
      end = scaleNode;
      scale = gamma;
      const biasNode = index.soleReader(scaleNode.outputs[0]!, 'Add');
      const beta = biasNode && index.other(biasNode, scaleNode.outputs[0]!);
      if (biasNode && beta && affine(graph.constants.get(beta), dims)) {
        matched.push(biasNode);
        end = biasNode;
        bias = beta;
      }
    }
    const size = dims.reduce((a, b) => a * b, 1);
    if (!scale) {
      scale = `${mean.name}:ones`;
      graph.constants.set(scale, { shape: dims, data: new Float32Array(size).fill(1) });
    }
    const fused: GraphNode = {
      name: `${mean.name}:layernorm`,
      op: 'LayerNormalization',
      inputs: bias ? [x, scale, bias] : [x, scale],
      outputs: [end.outputs[0]!],
      attributes: { axis: -axes.length, epsilon },
    };
    index.replace(matched, fused);
  }
  index.finish();
}

/**
 * Pad(constant 0) on the spatial axes of an NCHW tensor → the pads of the Conv or AveragePool that alone reads it
 * (an AveragePool then counts the padding, as it counted the padded zeros); MaxPool takes a Pad of −∞.
 */
export function fusePad(graph: PatternGraph): void {
  const index = new Index(graph);
  for (const pad of graph.nodes.filter((node) => node.op === 'Pad')) {
    if (!index.alive(pad)) continue;
    const pads = pad.attributes.pads as readonly number[] | undefined;
    const value = pad.attributes.value as number | undefined;
    if (pad.attributes.mode !== 'constant' || !pads || pads.length !== 8 || pads.some((p) => p < 0) || pads[0] || pads[1] || pads[4] || pads[5])
      continue;
    const readers = index.readers.get(pad.outputs[0]!) ?? [];
    const reader = readers[0];
    if (readers.length !== 1 || !reader || pad.outputs[0] === graph.output || reader.inputs[0] !== pad.outputs[0]) continue;
    const a = reader.attributes;
    if ((a.auto_pad as string | undefined) !== undefined && a.auto_pad !== 'NOTSET') continue;
    const own = (a.pads as readonly number[] | undefined) ?? [0, 0, 0, 0];
    const attributes = { ...a, pads: [own[0]! + pads[2]!, own[1]! + pads[3]!, own[2]! + pads[6]!, own[3]! + pads[7]!] };
    const countsPadding = (a.count_include_pad as number | undefined) === 1 || own.every((p) => p === 0);
    const fits =
      (reader.op === 'Conv' && value === 0) ||
      (reader.op === 'AveragePool' && value === 0 && countsPadding && !(a.ceil_mode as number | undefined)) ||
      (reader.op === 'MaxPool' && value === Number.NEGATIVE_INFINITY);
    if (!fits) continue;
    const fused = {
      ...reader,
      inputs: [pad.inputs[0]!, ...reader.inputs.slice(1)],
      attributes: reader.op === 'AveragePool' ? { ...attributes, count_include_pad: 1 } : attributes,
    };
    index.replace([pad, reader], fused);
  }
  index.finish();
}
