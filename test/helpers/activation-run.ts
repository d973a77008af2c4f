// Runs shaders/activation.wgsl forward and backward: shared by the Node test and the browser page, so both run the same code.
import { CommandBatch, gridFor, readFloats, upload, type GpuContext } from '../../src/gpu/index.ts';
import { ACTIVATIONS, type Activation, type ActivationParams, type ReluRule } from '../reference/activation.ts';

const RULES: Record<ReluRule, number> = { standard: 0, guided: 1, deconvnet: 2 };
export const PARAMS: ActivationParams = { alpha: -0.5, beta: 6 }; // used as slope 0.01 for leaky-relu below
export const paramsFor = (op: Activation): ActivationParams => (op === 'leaky-relu' ? { alpha: 0.01, beta: 0 } : PARAMS);

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
  op: Activation,
  rule: ReluRule,
  x: Float32Array,
  gradY: Float32Array,
): Promise<{ y: Float32Array; gradX: Float32Array }> {
  const { device, kernels } = context;
  const overrides = { OP: ACTIVATIONS.indexOf(op), RULE: RULES[rule], WORKGROUP_SIZE: 64 };
  const [forward, backward] = await Promise.all([
    kernels.kernel('activation', 'activation_forward', overrides),
    kernels.kernel('activation', 'activation_backward', overrides),
  ]);
  const buffers = {
    x: await upload(device, 'x', x),
    y: await upload(device, 'y', new Float32Array(x.length)),
    grad_y: await upload(device, 'grad_y', gradY),
    grad_x: await upload(device, 'grad_x', new Float32Array(x.length)),
  };
  const { alpha, beta } = paramsFor(op);
  const params = { count: x.length, alpha, beta };
  await new CommandBatch(device, `activation ${op}`)
    .dispatch(forward.bind(device, { params, x: buffers.x, y: buffers.y }), gridFor(x.length, 64))
    .dispatch(backward.bind(device, { params, x: buffers.x, grad_y: buffers.grad_y, grad_x: buffers.grad_x }), gridFor(x.length, 64))
    .submit();
  const [y, gradX] = await Promise.all([readFloats(device, buffers.y, x.length), readFloats(device, buffers.grad_x, x.length)]);
  for (const buffer of Object.values(buffers)) buffer.destroy();
  return { y, gradX };
}

/** Every activation and ReLU rule on the sample input: the numbers the Node and browser runs must agree on. */
export async function runAllActivations(context: GpuContext): Promise<Record<string, { y: number[]; gradX: number[] }>> {
  const x = sampleInput();
  const g = upstreamGradient();
  const results: Record<string, { y: number[]; gradX: number[] }> = {};
  const cases: [Activation, ReluRule][] = [...ACTIVATIONS.map((op): [Activation, ReluRule] => [op, 'standard']), ['relu', 'guided'], ['relu', 'deconvnet']];
  for (const [op, rule] of cases) {
    const { y, gradX } = await runActivation(context, op, rule, x, g);
    results[`${op}/${rule}`] = { y: [...y], gradX: [...gradX] };
  }
  return results;
}
