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

/** Backward rule sets: which vector-Jacobian product each ReLU op uses. Plain 'rectgrad' means percentile 98 (Kim et al.'s code). */
export type BackwardRules = ReluRule | 'rectgrad' | RectGradRules;

export function isRectGrad(rules: BackwardRules): rules is 'rectgrad' | RectGradRules {
  return rules === 'rectgrad' || typeof rules === 'object';
}

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
  rules: BackwardRules;
}

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
