import type { Dispatch } from '../gpu/commands.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { ReluRule } from '../kernels/activation.ts';
import type { GraphNode, Shape } from './ir.ts';

/**
 * RectGrad (Kim et al. 2019): each ReLU passes its upstream gradient only where the importance a ⊙ g exceeds the
 * percentile-th percentile of that layer's importances for the sample (src/kernels/attribution/rectgrad.ts).
 */
export interface RectGradRules {
  name: 'rectgrad';
  percentile: number;
}

/** LRP's rule at one Conv, ConvTranspose, Gemm or MatMul layer (src/graph/lrp.ts; docs/lrp.md). */
export type LrpLayerRule = 'epsilon' | 'gamma' | 'zplus' | 'alpha1beta0' | 'flat' | 'box';

/**
 * Layer-wise relevance propagation: the backward pass carries relevance instead of gradients (src/graph/lrp.ts), each
 * linear layer by its rule, the other ops by fixed rules (activations pass it, sums and average pools share it out).
 */
export interface LrpRules {
  name: 'lrp';
  /** Each linear layer's rule by node name; a layer not named takes 'epsilon'. */
  layers: Readonly<Record<string, LrpLayerRule>>;
  /** ε of the ε rule (0: LRP-0). */
  epsilon: number;
  /** γ of the γ rule. */
  gamma: number;
  /** The stabiliser of every other rule, and of the proportional rule through Add, average pooling and BatchNorm. */
  stabilizer: number;
  /** Leave biases out of the γ and α1β0 rules (Captum's set_bias_to_zero; Zennit's zero_params=['bias']). */
  zeroBias: boolean;
  /** The box rule's lowest and highest input values: one value, or one per channel (axis 1). */
  low: readonly number[];
  high: readonly number[];
}

/**
 * Backward rule sets: which vector-Jacobian product each ReLU op uses. Plain 'rectgrad' means percentile 98 (Kim et al.'s
 * code). 'deeplift' (Shrikumar et al. 2017, Captum's rescale rule) runs a batch of (input, reference) row pairs, and
 * the nonlinearities Captum rescales pass Δout/Δin (src/graph/ops/deeplift.ts); plans under it fuse no ReLU. LrpRules
 * carry relevance instead of gradients (src/graph/lrp.ts).
 */
export type BackwardRules = ReluRule | 'rectgrad' | RectGradRules | 'deeplift' | LrpRules;

export function isRectGrad(rules: BackwardRules): rules is 'rectgrad' | RectGradRules {
  return rules === 'rectgrad' || (typeof rules === 'object' && rules.name === 'rectgrad');
}

export const isLrp = (rules: BackwardRules): rules is LrpRules => typeof rules === 'object' && rules.name === 'lrp';

/** The ReLU rule of the activation kernel under a rule set (RectGrad's and DeepLift's own kernels aside). */
export const reluRule = (rules: BackwardRules): ReluRule => (rules === 'guided-backprop' || rules === 'deconvnet' ? rules : 'standard');

/** Does the rule set pair the batch's rows (a chunk must then hold whole pairs)? */
export const pairsRows = (rules: BackwardRules | undefined): number => (rules === 'deeplift' ? 2 : 1);

export function rectGradPercentile(rules: 'rectgrad' | RectGradRules): number {
  return rules === 'rectgrad' ? 98 : rules.percentile;
}

/** What an op sees when the planner asks it for dispatches: its tensors as buffers, already sized and placed. */
export interface OpContext {
  gpu: GpuContext;
  node: GraphNode;
  inputShapes: Shape[];
  outputShapes: Shape[];
  /** Forward values of the node's inputs and outputs (constants included), by position. */
  input(index: number): GPUBuffer;
  output(index: number): GPUBuffer;
  /** Is input `index` a constant (a weight)? Constants never get gradients. */
  isConstant(index: number): boolean;
  /** Constant data of an input, for ops that read weights on the CPU at plan time (none should need to at run time). */
  constantData(index: number): Float32Array | undefined;
  /** A buffer this node keeps from its forward to its backward (argmax, per-row statistics): the same one for the same label. */
  saved(label: string, bytes: number): GPUBuffer;
  /** Backward only: the upstream gradient of output `index`. */
  outputGradient(index: number): GPUBuffer;
  /** Backward only: does output `index` carry a gradient (of a node with several outputs, some may not)? */
  hasOutputGradient(index: number): boolean;
  /** Backward only: where input `index`'s gradient goes, or undefined when nothing needs it. */
  inputGradient(index: number): { buffer: GPUBuffer; accumulate: boolean } | undefined;
  /** Backward only: a buffer of the node's rule set that lives during its backward step only (src/graph/lrp.ts declares them). */
  scratch(label: string): GPUBuffer;
  rules: BackwardRules;
}

/** Whether input `index` (a weight) is read from its f16 copy: the context reads weights so (AdapterOptions.precision 'f16') and it is a constant. */
export const halfWeightsOf = (c: OpContext, index = 1): boolean => c.gpu.report.precision === 'f16' && c.isConstant(index);

export interface OpDefinition {
  /** Output shapes from input shapes (batch included) and attributes; throws GradlensError('BAD_MODEL') on a mismatch. */
  shape(inputs: Shape[], node: GraphNode, constant: (index: number) => Float32Array | undefined): Shape[];
  /**
   * Axes of input 0 along which the op moves elements (Slice, Gather, Pad…): the loader, which sees which axes carry
   * the batch, refuses moves along them (they would mix or drop samples).
   */
  movedAxes?(inputs: Shape[], node: GraphNode, constant: (index: number) => Float32Array | undefined): number[];
  /** Output 0 is input 0's buffer, reinterpreted (Reshape, Flatten, Identity): no kernel, no copy. */
  view?: boolean;
  forward?(op: OpContext): Promise<Dispatch[]>;
  /** Writes the gradient of every input that needs one; omitted for ops that are views or have no differentiable input. */
  backward?(op: OpContext): Promise<Dispatch[]>;
}
