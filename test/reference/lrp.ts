// Float64 references of shaders/attribution/lrp.wgsl's entry points, written from their definitions.
import type { Graph, GraphNode, Shape } from '../../src/graph/ir.ts';
import { sizeOf } from '../../src/graph/ir.ts';
import type { LrpLayerRule, LrpRules } from '../../src/graph/op.ts';
import { inferShapes } from '../../src/graph/shapes.ts';
import type { LrpModifier } from '../../src/kernels/attribution/lrp.ts';
import { REFERENCE_OPS, referenceForward } from './graph.ts';

/** max(x, 0), min(x, 0), x + γ·max(x, 0), or 1. */
export function modify(x: ArrayLike<number>, modifier: LrpModifier, gamma = 0): Float64Array {
  const f = {
    positive: (v: number) => Math.max(v, 0),
    negative: (v: number) => Math.min(v, 0),
    gamma: (v: number) => v + gamma * Math.max(v, 0),
    ones: () => 1,
  };
  return Float64Array.from(x, f[modifier]);
}

/** A bound (one value or one per channel of axis 1) broadcast over count elements, `inner` per channel. */
export function bound(values: ArrayLike<number>, count: number, inner: number): Float64Array {
  return Float64Array.from({ length: count }, (_, i) => values[Math.floor(i / inner) % values.length]!);
}

/** z + ε·sign(z) with sign(0) = 1 (Captum's PropagationRule, Zennit's stabilize). */
export const stabilize = (z: number, epsilon: number) => z + epsilon * (z < 0 ? -1 : 1);

/** R / stab(z), 0 where stab(z) = 0. */
export function divide(relevance: ArrayLike<number>, z: ArrayLike<number>, epsilon: number): Float64Array {
  return Float64Array.from(z, (v, i) => {
    const d = stabilize(v, epsilon);
    return d === 0 ? 0 : relevance[i]! / d;
  });
}

/** previous (or 0) + sign·x ⊙ c (c = 1: lrp_add). */
export function product(x: ArrayLike<number>, c: ArrayLike<number> | undefined, sign: number, previous?: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v, i) => (previous?.[i] ?? 0) + sign * v * (c ? c[i]! : 1));
}

/** A linear layer's rule in Zennit's BasicHook form: z' = Σ sign·f(in; W, b), R_in = Σ sign·in ⊙ Jᵀ(W)(R / stab z'). */
interface RuleTerm {
  input: (x: Float64Array, shape: Shape) => Float64Array;
  weight: (w: Float64Array) => Float64Array;
  /** undefined: the bias left out. */
  bias?: (b: Float64Array) => Float64Array;
  sign: number;
}

const map = (f: (v: number) => number) => (x: Float64Array) => x.map(f);
const same = (x: Float64Array) => x;
const positive = map((v) => Math.max(v, 0));
const negative = map((v) => Math.min(v, 0));

/** Each rule from its definition (Bach 2015, Montavon 2017/2019, Zennit's rules.py): the formulas docs/lrp.md gives. */
function ruleTerms(rule: LrpLayerRule, rules: LrpRules): RuleTerm[] {
  const keep = (f: (b: Float64Array) => Float64Array) => (rules.zeroBias ? undefined : f);
  const spread = (values: readonly number[]) => (x: Float64Array, shape: Shape) => bound(values, x.length, sizeOf(shape.slice(2)));
  switch (rule) {
    case 'epsilon':
      return [{ input: same, weight: same, bias: same, sign: 1 }];
    case 'gamma': {
      const boost = map((v) => v + rules.gamma * Math.max(v, 0));
      return [{ input: same, weight: boost, bias: keep(boost), sign: 1 }];
    }
    case 'zplus':
    case 'alpha1beta0':
      return [
        { input: positive, weight: positive, bias: rule === 'zplus' ? undefined : keep(positive), sign: 1 },
        { input: negative, weight: negative, sign: 1 },
      ];
    case 'flat':
      return [{ input: map(() => 1), weight: map(() => 1), sign: 1 }];
    case 'box':
      return [
        { input: same, weight: same, sign: 1 },
        { input: spread(rules.low), weight: positive, sign: -1 },
        { input: spread(rules.high), weight: negative, sign: -1 },
      ];
  }
}

const ACTIVATIONS = new Set(['Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Clip', 'Gelu', 'Softplus', 'Elu']);
const PROPORTIONAL = new Set(['Add', 'AveragePool', 'GlobalAveragePool', 'BatchNormalization', 'ReduceMean', 'ReduceSum']);

/**
 * Relevance of every tensor on the input's path, float64, from the output relevance `seed` (batch × classes): each
 * linear layer by its rule, activations pass it, Add and average pools share it in proportion to their inputs,
 * MaxPool and views move it as their gradient does.
 */
export function referenceRelevance(
  graph: Graph,
  input: ArrayLike<number>,
  batch: number,
  seed: ArrayLike<number>,
  rules: LrpRules,
): Map<string, Float64Array> {
  const shapes = inferShapes(graph, batch);
  const values = referenceForward(graph, input, batch);
  const depends = new Set([graph.input]);
  for (const node of graph.nodes) if (node.inputs.some((n) => depends.has(n))) depends.add(node.outputs[0]!);
  const relevance = new Map<string, Float64Array>([[graph.output, Float64Array.from(seed)]]);
  const add = (name: string, part: Float64Array) => {
    const sum = relevance.get(name);
    relevance.set(name, sum ? sum.map((v, j) => v + part[j]!) : part);
  };
  for (const node of [...graph.nodes].reverse()) {
    const r = relevance.get(node.outputs[0]!);
    if (!r) continue;
    const op = REFERENCE_OPS[node.op]!;
    const inputs = node.inputs.map((name) => values.get(name)!);
    const inShapes = node.inputs.map((name) => shapes.get(name)!);
    const outShape = shapes.get(node.outputs[0]!)!;
    const backward = (x: Float64Array[], dy: Float64Array, n: GraphNode = node) => {
      const s = inShapes.slice(0, x.length);
      return op.backward(x, op.forward(x, s, n, outShape), dy, s, n, 'standard', outShape);
    };
    if (['Conv', 'Gemm', 'MatMul'].includes(node.op)) {
      const act = graph.constants.has(node.inputs[0]!) ? 1 : 0;
      const rule = rules.layers[node.name] ?? 'epsilon';
      const terms = ruleTerms(rule, rules).map((term) => {
        const x = [...inputs];
        x[act] = term.input(inputs[act]!, inShapes[act]!);
        x[1 - act] = term.weight(inputs[1 - act]!);
        const withBias = term.bias !== undefined && node.op !== 'MatMul' && inputs[2] !== undefined;
        if (withBias) x[2] = term.bias!(inputs[2]!);
        const n: GraphNode = withBias ? node : { ...node, inputs: node.inputs.slice(0, 2) };
        const xs = withBias ? x : x.slice(0, 2);
        return { xs, n, z: op.forward(xs, inShapes.slice(0, xs.length), n, outShape), sign: term.sign };
      });
      const z = terms[0]!.z.map((_, j) => terms.reduce((sum, t) => sum + t.sign * t.z[j]!, 0));
      const s = divide(r, z, rule === 'epsilon' ? rules.epsilon : rules.stabilizer);
      for (const t of terms) add(node.inputs[act]!, product(t.xs[act]!, backward(t.xs, s, t.n)[act]!, t.sign));
    } else if (PROPORTIONAL.has(node.op)) {
      const s = divide(r, values.get(node.outputs[0]!)!, rules.stabilizer);
      backward(inputs, s).forEach((c, i) => c && depends.has(node.inputs[i]!) && add(node.inputs[i]!, product(inputs[i]!, c, 1)));
    } else if (ACTIVATIONS.has(node.op)) {
      add(node.inputs[0]!, r.slice());
    } else {
      backward(inputs, r).forEach((c, i) => c && depends.has(node.inputs[i]!) && add(node.inputs[i]!, c));
    }
  }
  return relevance;
}
