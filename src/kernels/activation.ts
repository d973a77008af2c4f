import { gridFor, type Dispatch } from '../gpu/commands.ts';
import type { GpuContext } from '../gpu/device.ts';
import { WORKGROUP_SIZE, wgslEnum } from './wgsl.ts';

/** The pointwise ops of shaders/activation.wgsl, named as its OP_* constants are. */
export const ACTIVATION_OPS = [
  'relu',
  'leaky-relu',
  'clip',
  'sigmoid',
  'tanh',
  'gelu-erf',
  'gelu-tanh',
  'hard-sigmoid',
  'hard-swish',
  'sqrt',
  'exp',
  'log',
  'neg',
  'abs',
  'reciprocal',
  'erf',
  'pow',
  'softplus',
  'elu',
  'selu',
  'mish',
] as const;
export type ActivationOp = (typeof ACTIVATION_OPS)[number];

/** Backward rule sets for the ReLU family (Springenberg 2014; Zeiler 2014); other activations ignore them. */
export const RELU_RULES = ['standard', 'guided-backprop', 'deconvnet'] as const;
export type ReluRule = (typeof RELU_RULES)[number];

export interface ActivationDims {
  count: number;
  op: ActivationOp;
  /** LeakyRelu's slope, Clip's lower bound, HardSigmoid's, Elu's and Selu's α, Pow's exponent. */
  alpha?: number;
  /** Clip's upper bound, HardSigmoid's β, Selu's γ. */
  beta?: number;
}

function overrides(op: ActivationOp, rule: ReluRule = 'standard', accumulate = false) {
  return { OP: wgslEnum('activation', 'OP', op), RULE: wgslEnum('activation', 'RULE', rule), ACCUMULATE: Number(accumulate), WORKGROUP_SIZE };
}

/** Pow multiplies out integer exponents up to 8 in a loop (shaders/activation.wgsl, power); nothing else loops. */
const POWER_ITERATIONS = 9;

/** y = act(x), elementwise over `count` values. */
export async function activationForward(context: GpuContext, io: { x: GPUBuffer; y: GPUBuffer }, dims: ActivationDims): Promise<Dispatch> {
  const kernel = await context.kernels.kernel('activation', 'activation_forward', overrides(dims.op));
  const params = { count: dims.count, alpha: dims.alpha ?? 0, beta: dims.beta ?? 0 };
  return { bound: kernel.bind(context.device, { params, ...io }), workgroups: gridFor(dims.count, WORKGROUP_SIZE), iterations: POWER_ITERATIONS };
}

/** grad_x (=|+=) act'(x) · grad_y, from the forward's input x; `accumulate` adds into grad_x. */
export async function activationBackward(
  context: GpuContext,
  io: { x: GPUBuffer; gradY: GPUBuffer; gradX: GPUBuffer },
  dims: ActivationDims & { rule?: ReluRule; accumulate?: boolean },
): Promise<Dispatch> {
  const kernel = await context.kernels.kernel('activation', 'activation_backward', overrides(dims.op, dims.rule, dims.accumulate));
  const params = { count: dims.count, alpha: dims.alpha ?? 0, beta: dims.beta ?? 0 };
  const bound = kernel.bind(context.device, { params, x: io.x, grad_y: io.gradY, grad_x: io.gradX });
  return { bound, workgroups: gridFor(dims.count, WORKGROUP_SIZE), iterations: POWER_ITERATIONS };
}
