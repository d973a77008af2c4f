import { readFloats } from '../gpu/buffers.ts';
import { GradlensError } from '../gpu/errors.ts';
import { sizeOf } from '../graph/ir.ts';
import type { Model } from '../graph/model.ts';
import type { ScoreKind } from '../graph/plan.ts';
import { runJob, type Job } from './runner.ts';
import type { Target } from './types.ts';

export type { Target } from './types.ts';

/** Logits of `count` inputs: forward passes on the runner, chunks of at most `chunk` inputs. */
export async function logitsOf(model: Model, inputs: Float32Array, count: number, chunk = 64): Promise<Float32Array> {
  const size = sizeOf(model.graph.inputShape);
  const classes = sizeOf(model.outputShape);
  const { device } = model.gpu;
  if (inputs.length !== count * size)
    throw new GradlensError(
      'BAD_INPUT',
      `expected ${count} inputs of [${model.graph.inputShape.join(', ')}] = ${count * size} values, got ${inputs.length}`,
    );
  const nan = inputs.findIndex((v) => !Number.isFinite(v));
  if (nan >= 0) throw new GradlensError('NAN_INPUT', `input value ${nan} is ${inputs[nan]}: clean the input (NaN or infinity) before explaining it`);
  const job: Job<Float32Array> = {
    label: 'logits',
    total: count,
    plans: [{ objective: 'none' }],
    async prepare(scope, _chunkSize, [plan]) {
      const [logits] = (await scope.allocate([{ label: 'logits', size: count * classes * 4 }])) as [GPUBuffer];
      return {
        points: ({ start, count: n }) => {
          const input = inputs.subarray(start * size, (start + n) * size);
          device.queue.writeBuffer(plan!.buffers.input, 0, input.buffer, input.byteOffset, input.byteLength);
          return [];
        },
        reduce: ({ start, count: n }) => [{ source: plan!.buffers.output, target: logits, size: n * classes * 4, targetOffset: start * classes * 4 }],
        finish: () => readFloats(device, logits, count * classes),
      };
    },
  };
  return (await runJob(model, job, { chunkSize: Math.min(chunk, count) })).result;
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
