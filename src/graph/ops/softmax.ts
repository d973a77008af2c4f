import { softmaxBackward, softmaxDims, softmaxForward, type SoftmaxOp } from '../../kernels/softmax.ts';
import { attribute } from '../ir.ts';
import type { OpDefinition } from '../op.ts';
import { deepLiftSoftmax } from './deeplift.ts';

/** Softmax / LogSoftmax over one axis (opset 13 semantics; default the last axis). The backward reads the output. */
function softmax(op: SoftmaxOp): OpDefinition {
  const dims = (shape: readonly number[], axis: number) => softmaxDims(shape, axis, op);
  return {
    shape: ([x]) => [x!],
    forward: async (c) => [await softmaxForward(c.gpu, { x: c.input(0), y: c.output(0) }, dims(c.inputShapes[0]!, attribute(c.node, 'axis', -1)))],
    backward: async (c) => {
      const target = c.inputGradient(0);
      if (!target) return [];
      const all = { ...dims(c.inputShapes[0]!, attribute(c.node, 'axis', -1)), accumulate: target.accumulate };
      if (c.rules === 'deeplift' && op === 'softmax')
        return deepLiftSoftmax(c, target, (fallback) =>
          softmaxBackward(c.gpu, { y: c.output(0), gradY: c.outputGradient(0), gradX: fallback }, { ...all, accumulate: false }),
        );
      return [await softmaxBackward(c.gpu, { y: c.output(0), gradY: c.outputGradient(0), gradX: target.buffer }, all)];
    },
  };
}

export const softmaxOps: Record<string, OpDefinition> = {
  Softmax: softmax('softmax'),
  LogSoftmax: softmax('log-softmax'),
};
