import type { Dispatch } from '../../gpu/commands.ts';
import { gemm, gemmBackwardA, gemmBackwardB, gemmDims, matmulDims } from '../../kernels/gemm.ts';
import { attribute, type GraphNode, type Shape } from '../ir.ts';
import { halfWeightsOf, type OpContext, type OpDefinition } from '../op.ts';
import { fusedActivation, preActivationGradient } from './fused.ts';

const gemmOf = (c: OpContext | { inputShapes: Shape[]; node: GraphNode }) => ({
  ...gemmDims(c.inputShapes[0]!, c.inputShapes[1]!, attribute<number>(c.node, 'transA', 0) === 1, attribute<number>(c.node, 'transB', 0) === 1),
  alpha: attribute<number>(c.node, 'alpha', 1),
});

/** ONNX Gemm: Y = alpha·op(A)·op(B) + beta·C, C broadcast; an activation may be fused after it. */
const gemmOp: OpDefinition = {
  shape: (inputs, node) => [gemmOf({ inputShapes: inputs, node }).outputShape],
  forward: async (c) => {
    const dims = { ...gemmOf(c), activation: fusedActivation(c.node), beta: attribute<number>(c.node, 'beta', 1), halfB: halfWeightsOf(c) };
    const bias = c.node.inputs[2] ? { bias: c.input(2) } : {};
    return gemm(
      c.gpu,
      { a: c.input(0), b: c.input(1), ...bias, c: c.output(0) },
      { ...dims, ...(c.node.inputs[2] ? { biasShape: c.inputShapes[2]! } : {}) },
    );
  },
  backward: (c) => linearBackward(c, gemmOf(c)),
};

/** ONNX MatMul (numpy semantics): either operand may be an activation, and both may need gradients. */
const matmul: OpDefinition = {
  shape: ([a, b]) => [matmulDims(a!, b!).outputShape],
  forward: (c) =>
    gemm(c.gpu, { a: c.input(0), b: c.input(1), c: c.output(0) }, { ...matmulDims(c.inputShapes[0]!, c.inputShapes[1]!), halfB: halfWeightsOf(c) }),
  backward: (c) => linearBackward(c, matmulDims(c.inputShapes[0]!, c.inputShapes[1]!)),
};

async function linearBackward(c: OpContext, dims: Parameters<typeof gemmBackwardA>[2]): Promise<Dispatch[]> {
  const [gradA, gradB] = [c.inputGradient(0), c.inputGradient(1)];
  if (!gradA && !gradB) return [];
  const { dispatches, gradient } = await preActivationGradient(c);
  if (gradA) {
    const through = { ...dims, accumulate: gradA.accumulate, halfB: halfWeightsOf(c) };
    dispatches.push(...(await gemmBackwardA(c.gpu, { b: c.input(1), gradC: gradient, gradA: gradA.buffer }, through)));
  }
  if (gradB)
    dispatches.push(
      ...(await gemmBackwardB(c.gpu, { a: c.input(0), gradC: gradient, gradB: gradB.buffer }, { ...dims, accumulate: gradB.accumulate })),
    );
  return dispatches;
}

export const gemmOps: Record<string, OpDefinition> = {
  Gemm: gemmOp,
  MatMul: matmul,
};
