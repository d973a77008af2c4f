// DeepLift's rescale rule in float64, written from Captum's deep_lift.py (nonlinear, softmax, maxpool): a batch of
// (input, reference) row pairs, row 2p the input's and 2p + 1 its reference's, and the ops Captum hooks passing
// multipliers instead of derivatives. The oracle for shaders/attribution/deeplift.wgsl and src/graph/ops/deeplift.ts.
import type { Graph, GraphNode, Shape } from '../../src/graph/ir.ts';
import { sizeOf } from '../../src/graph/ir.ts';
import { REFERENCE_OPS, referenceForward, referenceGradients } from './graph.ts';

/** Captum's DeepLift(eps=1e-10). */
export const EPS = 1e-10;
const RESCALED = new Set(['Relu', 'Elu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Softplus']);

/** The indices of element i's counterparts in its pair's input and reference rows. */
function pairOf(i: number, row: number) {
  const start = Math.floor(i / (2 * row)) * 2 * row;
  const j = (i - start) % row;
  return { input: start + j, reference: start + row + j, isReference: i - start >= row };
}

const rescaled = (x: ArrayLike<number>, i: number, row: number, numerator: number, fallback: ArrayLike<number>) => {
  const { input, reference } = pairOf(i, row);
  const deltaIn = x[input]! - x[reference]!;
  return Math.abs(deltaIn) < EPS ? fallback[i]! : numerator / deltaIn;
};

/** Captum's `nonlinear`: g · Δy/Δx, or the ordinary gradient where |Δx| < eps. */
export function rescale(x: ArrayLike<number>, y: ArrayLike<number>, dy: ArrayLike<number>, fallback: ArrayLike<number>, row: number): Float64Array {
  return Float64Array.from({ length: x.length }, (_, i) => {
    const { input, reference } = pairOf(i, row);
    return rescaled(x, i, row, dy[i]! * (y[input]! - y[reference]!), fallback);
  });
}

/** Captum's `maxpool`, its first half: g · (max(y, y_ref) − y_ref) on input rows, g · (y − max(y, y_ref)) on reference rows. */
export function poolWeights(y: ArrayLike<number>, dy: ArrayLike<number>, row: number): Float64Array {
  return Float64Array.from({ length: y.length }, (_, i) => {
    const { input, reference, isReference } = pairOf(i, row);
    const top = Math.max(y[input]!, y[reference]!);
    return dy[i]! * (isReference ? y[input]! - top : top - y[reference]!);
  });
}

/** Captum's `maxpool`, its second half: the two rows' unpooled terms summed, over Δx. */
export function routed(x: ArrayLike<number>, terms: ArrayLike<number>, fallback: ArrayLike<number>, row: number): Float64Array {
  return Float64Array.from({ length: x.length }, (_, i) => {
    const { input, reference } = pairOf(i, row);
    return rescaled(x, i, row, terms[input]! + terms[reference]!, fallback);
  });
}

/** Captum's `softmax` normalisation, per pair: minus the mean over the pair's 2·row values. */
export function center(values: ArrayLike<number>, row: number): Float64Array {
  const pairs = values.length / (2 * row);
  const means = Array.from({ length: pairs }, (_, p) => {
    let sum = 0;
    for (let e = 0; e < 2 * row; e++) sum += values[p * 2 * row + e]!;
    return sum / (2 * row);
  });
  return Float64Array.from(values, (v, i) => v - means[Math.floor(i / (2 * row))]!);
}

/** DeepLift's backward of one node, where Captum's DeepLift changes it. */
export function deepLiftBackward(
  node: GraphNode,
  inputs: Float64Array[],
  y: Float64Array,
  dy: Float64Array,
  shapes: Shape[],
): Float64Array[] | undefined {
  const ordinary = (gradient: Float64Array) => REFERENCE_OPS[node.op]!.backward(inputs, y, gradient, shapes, node, 'standard', [])[0]!;
  const x = inputs[0]!;
  const row = sizeOf(shapes[0]!) / shapes[0]![0]!;
  if (RESCALED.has(node.op)) return [rescale(x, y, dy, ordinary(dy), row)];
  if (node.op === 'Softmax') return [center(rescale(x, y, dy, ordinary(dy), row), row)];
  if (node.op === 'MaxPool') return [routed(x, ordinary(poolWeights(y, dy, y.length / shapes[0]![0]!)), ordinary(dy), row)];
  return undefined;
}

/**
 * DeepLift of `count` inputs against their baselines (count × size each), as Captum's DeepLift.attribute: the paired
 * batch's forward, gradient 1 at each row's target, and (x − x₀) ⊙ the input rows' multipliers.
 */
export function deepLiftReference(graph: Graph, inputs: Float32Array, baselines: Float32Array, targets: readonly number[]): Float64Array {
  const count = targets.length;
  const size = inputs.length / count;
  const paired = new Float64Array(2 * count * size);
  for (let i = 0; i < count; i++) {
    paired.set(inputs.subarray(i * size, (i + 1) * size), 2 * i * size);
    paired.set(baselines.subarray(i * size, (i + 1) * size), (2 * i + 1) * size);
  }
  const values = referenceForward(graph, paired, 2 * count);
  const classes = values.get(graph.output)!.length / (2 * count);
  const seed = new Float64Array(2 * count * classes);
  for (let r = 0; r < 2 * count; r++) seed[r * classes + targets[r >> 1]!] = 1;
  const multipliers = referenceGradients(graph, values, seed, 2 * count, 'standard', deepLiftBackward).get(graph.input)!;
  return Float64Array.from({ length: count * size }, (_, k) => {
    const [i, e] = [Math.floor(k / size), k % size];
    return multipliers[2 * i * size + e]! * (inputs[k]! - baselines[k]!);
  });
}
