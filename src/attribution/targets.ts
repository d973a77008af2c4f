import { GradlensError } from '../gpu/errors.ts';
import { sizeOf } from '../graph/ir.ts';
import type { Model } from '../graph/model.ts';
import type { ScoreKind } from '../graph/plan.ts';
import type { Target } from './types.ts';

export type { Target } from './types.ts';

/** Logits of `count` inputs, in chunks of a forward-only plan. */
export async function logitsOf(model: Model, inputs: Float32Array, count: number, chunk = 64): Promise<Float32Array> {
  const size = sizeOf(model.graph.inputShape);
  const classes = sizeOf(model.outputShape);
  const batch = Math.min(count, chunk);
  const plan = await model.cachedPlan({ batch, objective: 'none' });
  const logits = new Float32Array(count * classes);
  for (let start = 0; start < count; start += batch) {
    const n = Math.min(batch, count - start);
    const input = new Float32Array(batch * size);
    input.set(inputs.subarray(start * size, (start + n) * size));
    const { output } = await plan.run({ input });
    logits.set(output.subarray(0, n * classes), start * classes);
  }
  return logits;
}

/** Each input's class: the given index, or the top-1 logit (first maximum, as the GPU seed resolves ties). */
export function resolveTargets(target: Target, logits: Float32Array, count: number, classes: number): Int32Array {
  const list = typeof target === 'object' ? target : Array.from({ length: count }, () => target);
  if (list.length !== count) throw new GradlensError('BAD_INPUT', `${list.length} targets for ${count} inputs`);
  return Int32Array.from(list, (t, i) => {
    if (t === 'top1') {
      let best = 0;
      for (let k = 1; k < classes; k++) if (logits[i * classes + k]! > logits[i * classes + best]!) best = k;
      return best;
    }
    if (!Number.isInteger(t) || t < 0 || t >= classes) throw new GradlensError('BAD_INPUT', `target ${t} is not a class index in [0, ${classes})`);
    return t;
  });
}

/** The score each gradient is taken of: the target's logit, softmax probability or log-probability. */
export function scoresOf(logits: Float32Array, targets: Int32Array, classes: number, kind: ScoreKind): Float32Array {
  return Float32Array.from(targets, (t, i) => {
    const row = logits.subarray(i * classes, (i + 1) * classes);
    if (kind === 'logit') return row[t]!;
    const max = Math.max(...row);
    const logSum = Math.log(row.reduce((sum, v) => sum + Math.exp(v - max), 0));
    const logProbability = row[t]! - max - logSum;
    return kind === 'log-probability' ? logProbability : Math.exp(logProbability);
  });
}
