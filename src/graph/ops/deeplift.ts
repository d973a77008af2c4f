// DeepLift's backward (Shrikumar et al. 2017) as Captum computes it: the plan's batch holds (input, reference) row
// pairs, and the modules Captum's DeepLift hooks (SUPPORTED_NON_LINEAR) pass multipliers Δout/Δin; every other op keeps
// its ordinary backward, which is DeepLift's linear rule. Each rule first runs the op's own backward into a saved
// buffer, the ordinary gradient Captum falls back to where |Δin| < 1e-10.
import type { Dispatch } from '../../gpu/commands.ts';
import { deepLiftCenter, deepLiftPoolWeights, deepLiftRescale, deepLiftRouted } from '../../kernels/attribution/deeplift.ts';
import { reduceForward } from '../../kernels/tensor.ts';
import { sizeOf } from '../ir.ts';
import type { OpContext } from '../op.ts';

/** The pointwise ops Captum's DeepLift rescales (nn.ReLU, ELU, LeakyReLU, Sigmoid, Tanh, Softplus); others keep gradients. */
export const DEEPLIFT_RESCALED: ReadonlySet<string> = new Set(['Relu', 'Elu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Softplus']);

type Ordinary = (gradX: GPUBuffer) => Promise<Dispatch>;
/** Where the input's gradient goes (OpContext.inputGradient(0), asked once: a second ask would read as accumulate). */
type Target = { buffer: GPUBuffer; accumulate: boolean };

function shapeOf(c: OpContext) {
  const count = sizeOf(c.inputShapes[0]!);
  return { count, batch: c.inputShapes[0]![0]!, bytes: count * 4 };
}

/** ReLU, Sigmoid, Tanh, …: g · Δy/Δx. */
export async function deepLiftPointwise(c: OpContext, target: Target, ordinary: Ordinary): Promise<Dispatch[]> {
  const { count, batch, bytes } = shapeOf(c);
  const fallback = c.saved('deeplift fallback', bytes);
  const io = { x: c.input(0), y: c.output(0), gradY: c.outputGradient(0), fallback, gradX: target.buffer };
  return [await ordinary(fallback), await deepLiftRescale(c.gpu, io, { count, batch, accumulate: target.accumulate })];
}

/**
 * Captum's maxpool rule: each row's output gradient, weighted by its share of Δy at the cross maximum, goes to the
 * row's own argmax (MaxPool's backward, `route`); the two rows' routed terms, summed, over Δx.
 */
export async function deepLiftMaxPool(
  c: OpContext,
  target: Target,
  route: (gradY: GPUBuffer, gradX: GPUBuffer) => Promise<Dispatch>,
): Promise<Dispatch[]> {
  const { count, batch, bytes } = shapeOf(c);
  const outCount = sizeOf(c.outputShapes[0]!);
  const weighted = c.saved('deeplift weighted', outCount * 4);
  const routed = c.saved('deeplift routed', bytes);
  const fallback = c.saved('deeplift fallback', bytes);
  return [
    await deepLiftPoolWeights(c.gpu, { y: c.output(0), gradY: c.outputGradient(0), weighted }, { count: outCount, batch }),
    await route(weighted, routed),
    await route(c.outputGradient(0), fallback),
    await deepLiftRouted(c.gpu, { x: c.input(0), routed, fallback, gradX: target.buffer }, { count, batch, accumulate: target.accumulate }),
  ];
}

/**
 * Captum's softmax rule: the pointwise rescale, then minus its mean. Captum takes that mean over the whole batch; here
 * over the pair, so an input's attribution does not depend on the others in its call (the same for one input).
 */
export async function deepLiftSoftmax(c: OpContext, target: Target, ordinary: Ordinary): Promise<Dispatch[]> {
  const { count, batch, bytes } = shapeOf(c);
  const fallback = c.saved('deeplift fallback', bytes);
  const rescaled = c.saved('deeplift rescaled', bytes);
  const sums = c.saved('deeplift pair sums', (batch / 2) * 4);
  const ties = c.saved('deeplift pair ties', (batch / 2) * 4);
  const io = { x: c.input(0), y: c.output(0), gradY: c.outputGradient(0), fallback, gradX: rescaled };
  const pairs = { shape: [batch / 2, (2 * count) / batch], axes: [1], op: 'sum' as const };
  return [
    await ordinary(fallback),
    await deepLiftRescale(c.gpu, io, { count, batch }),
    await reduceForward(c.gpu, { x: rescaled, y: sums, ties }, pairs),
    await deepLiftCenter(c.gpu, { rescaled, sums, gradX: target.buffer }, { count, batch, accumulate: target.accumulate }),
  ];
}
