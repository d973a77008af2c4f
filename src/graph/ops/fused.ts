// A Conv or Gemm with a ReLU fused after it (src/graph/fold.ts): the ReLU's backward runs before the op's own.
import type { Dispatch } from '../../gpu/commands.ts';
import { activationBackward } from '../../kernels/activation.ts';
import { rectGradBackward } from '../../kernels/attribution/rectgrad.ts';
import { attribute, sizeOf, type GraphNode } from '../ir.ts';
import { isRectGrad, rectGradPercentile, reluRule, type OpContext } from '../op.ts';

/** Set by the planner's fusion pass (src/graph/fold.ts) when a Relu follows and nothing else reads the pre-activation. */
export const fusedActivation = (node: GraphNode): 'relu' | 'none' => (attribute<string>(node, 'activation', 'none') === 'relu' ? 'relu' : 'none');

/**
 * The gradient reaching a Conv/Gemm's own output: with a fused ReLU, first the ReLU's backward (under the plan's
 * rule set) on the saved post-activation output, whose sign is the pre-activation's.
 */
export async function preActivationGradient(c: OpContext): Promise<{ dispatches: Dispatch[]; gradient: GPUBuffer }> {
  if (fusedActivation(c.node) === 'none') return { dispatches: [], gradient: c.outputGradient(0) };
  const count = sizeOf(c.outputShapes[0]!);
  const gradient = c.saved('pre-activation gradient', count * 4);
  const io = { x: c.output(0), gradY: c.outputGradient(0), gradX: gradient };
  if (isRectGrad(c.rules)) {
    const batch = c.outputShapes[0]![0]!;
    const threshold = c.saved('rectgrad threshold', batch * 4);
    return { dispatches: await rectGradBackward(c.gpu, { ...io, threshold }, { count, batch, percentile: rectGradPercentile(c.rules) }), gradient };
  }
  return { dispatches: [await activationBackward(c.gpu, io, { count, op: 'relu', rule: reluRule(c.rules) })], gradient };
}
