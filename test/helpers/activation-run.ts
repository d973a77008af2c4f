// Runs shaders/activation.wgsl forward and backward: shared by the Node test and the browser page, so both run the same code.
import { CommandBatch, readFloats, upload, type GpuContext } from '../../src/gpu/index.ts';
import { activationBackward, activationForward, ACTIVATION_OPS, type ActivationOp, type ReluRule } from '../../src/kernels/activation.ts';
import type { ActivationParams } from '../reference/activation.ts';

/** Attributes off their defaults where the op has them, so a swapped or ignored parameter shows. */
const PARAMS: Partial<Record<ActivationOp, ActivationParams>> = {
  'leaky-relu': { alpha: 0.01, beta: 0 },
  'hard-sigmoid': { alpha: 0.25, beta: 0.4 },
  elu: { alpha: 0.7, beta: 0 },
  selu: { alpha: 1.67326319217681884765625, beta: 1.05070102214813232421875 },
  pow: { alpha: 3, beta: 0 },
};
export const paramsFor = (op: ActivationOp): ActivationParams => PARAMS[op] ?? { alpha: -0.5, beta: 6 };

/** Where an op is defined with a finite derivative: sqrt and log on positives, 1/x off zero, exp where f32 holds it. */
export function inDomain(op: ActivationOp | undefined, v: number): number {
  if (op === 'sqrt' || op === 'log') return Math.abs(v) || 0.25;
  if (op === 'reciprocal') return v || 0.25;
  if (op === 'exp') return Math.max(-20, Math.min(20, v)); // exp(x) in f32 is off by ~|x|·2⁻²⁴ relative: x ≤ 20 keeps 1.2e-6
  return v;
}

/** A deterministic input: a sweep over [-8, 8] plus edge values (zeros, tiny, huge, the clip bounds), in the op's domain. */
export function sampleInput(count = 1031, op?: ActivationOp): Float32Array {
  const edges = [0, -0, 1e-8, -1e-8, 20, -20, 100, -100, -0.5, 6];
  return Float32Array.from({ length: count }, (_, i) => inDomain(op, i < edges.length ? edges[i]! : -8 + (16 * i) / count));
}

export function upstreamGradient(count = 1031): Float32Array {
  return Float32Array.from({ length: count }, (_, i) => Math.sin(i * 0.37) * 2);
}

export async function runActivation(
  context: GpuContext,
  op: ActivationOp,
  rule: ReluRule,
  x: Float32Array,
  gradY: Float32Array,
  initialGradX = new Float32Array(x.length),
  accumulate = false,
  params = paramsFor(op),
): Promise<{ y: Float32Array; gradX: Float32Array }> {
  const { device } = context;
  const buffers = {
    x: await upload(device, 'x', x),
    y: await upload(device, 'y', new Float32Array(x.length)),
    gradY: await upload(device, 'grad_y', gradY),
    gradX: await upload(device, 'grad_x', initialGradX),
  };
  const dims = { count: x.length, op, ...params };
  await new CommandBatch(device, `activation ${op}`)
    .add(await activationForward(context, { x: buffers.x, y: buffers.y }, dims))
    .add(await activationBackward(context, { x: buffers.x, gradY: buffers.gradY, gradX: buffers.gradX }, { ...dims, rule, accumulate }))
    .submit();
  const [y, gradX] = await Promise.all([readFloats(device, buffers.y, x.length), readFloats(device, buffers.gradX, x.length)]);
  for (const buffer of Object.values(buffers)) buffer.destroy();
  return { y, gradX };
}

/** Every activation and ReLU rule on the sample input: the numbers the Node and browser runs must agree on. */
export async function runAllActivations(context: GpuContext): Promise<Record<string, { y: number[]; gradX: number[] }>> {
  const x = sampleInput();
  const g = upstreamGradient();
  const results: Record<string, { y: number[]; gradX: number[] }> = {};
  const cases: [ActivationOp, ReluRule][] = [
    ...ACTIVATION_OPS.map((op): [ActivationOp, ReluRule] => [op, 'standard']),
    ['relu', 'guided-backprop'],
    ['relu', 'deconvnet'],
  ];
  for (const [op, rule] of cases) {
    const { y, gradX } = await runActivation(context, op, rule, sampleInput(x.length, op), g);
    results[`${op}/${rule}`] = { y: [...y], gradX: [...gradX] };
  }
  return results;
}
