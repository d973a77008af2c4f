// Runs shaders/activation.wgsl forward and backward: shared by the Node test and the browser page, so both run the same code.
import { CommandBatch, readFloats, upload, type GpuContext } from '../../src/gpu/index.ts';
import { activationBackward, activationForward, ACTIVATION_OPS, type ActivationOp, type ReluRule } from '../../src/kernels/activation.ts';
import type { ActivationParams } from '../reference/activation.ts';

export const paramsFor = (op: ActivationOp): ActivationParams => (op === 'leaky-relu' ? { alpha: 0.01, beta: 0 } : { alpha: -0.5, beta: 6 });

/** A deterministic input: a sweep over [-8, 8] plus edge values (zeros, tiny, huge, the clip bounds). */
export function sampleInput(count = 1031): Float32Array {
  const edges = [0, -0, 1e-8, -1e-8, 20, -20, 100, -100, -0.5, 6];
  return Float32Array.from({ length: count }, (_, i) => (i < edges.length ? edges[i]! : -8 + (16 * i) / count));
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
): Promise<{ y: Float32Array; gradX: Float32Array }> {
  const { device } = context;
  const buffers = {
    x: await upload(device, 'x', x),
    y: await upload(device, 'y', new Float32Array(x.length)),
    gradY: await upload(device, 'grad_y', gradY),
    gradX: await upload(device, 'grad_x', initialGradX),
  };
  const dims = { count: x.length, op, ...paramsFor(op) };
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
  const cases: [ActivationOp, ReluRule][] = [...ACTIVATION_OPS.map((op): [ActivationOp, ReluRule] => [op, 'standard']), ['relu', 'guided-backprop'], ['relu', 'deconvnet']];
  for (const [op, rule] of cases) {
    const { y, gradX } = await runActivation(context, op, rule, x, g);
    results[`${op}/${rule}`] = { y: [...y], gradX: [...gradX] };
  }
  return results;
}
