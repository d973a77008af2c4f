import { readFloats } from '../gpu/buffers.ts';
import { GradlensError } from '../gpu/errors.ts';
import { sizeOf } from '../graph/ir.ts';
import type { Model } from '../graph/model.ts';
import type { ScoreKind } from '../graph/plan.ts';
import { runJob, type Job } from './runner.ts';
import type { Graph, Shape } from '../graph/ir.ts';
import type { MaskTarget, OutputTarget, RegionTarget, StepTarget, Target } from './types.ts';

export type { Target } from './types.ts';

/** Logits of `count` inputs: forward passes on the runner, chunks of at most `chunk` inputs, within `memoryBudget`. */
export async function logitsOf(model: Model, inputs: Float32Array, count: number, chunk = 64, memoryBudget?: number): Promise<Float32Array> {
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
    bytes: 4 * (count * classes * 2),
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
  return (await runJob(model, job, { chunkSize: Math.min(chunk, count), memoryBudget })).result;
}

/**
 * Each input's output element: the given class, the top-1 logit (first maximum, as the GPU seed resolves ties), or a
 * step target's flat index in a [steps, classes] output (`outputShape`, per sample).
 */
export function resolveTargets(target: Target, logits: Float32Array, count: number, classes: number, outputShape: Shape = [classes]): Int32Array {
  if (isStepTarget(target) || isStepList(target)) return resolveSteps(target, logits, count, outputShape).indices;
  if (isOutputTarget(target))
    throw new GradlensError('BAD_PARAMS', 'a region or mask target is scored through a target head: explain() takes it, this call does not');
  const list = typeof target === 'object' ? (target as readonly (number | 'top1')[]) : Array.from({ length: count }, () => target);
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

export const isOutputTarget = (target: Target): target is OutputTarget =>
  typeof target === 'object' && !Array.isArray(target) && ('step' in target || 'region' in target || 'mask' in target);
export const isStepTarget = (target: Target): target is StepTarget => isOutputTarget(target) && 'step' in target;
export const isStepList = (target: Target): target is readonly StepTarget[] =>
  Array.isArray(target) && target.some((t: unknown) => typeof t === 'object' && t !== null);

/**
 * Step targets (one for all inputs, or one per input): each class resolved (top-1 of that step's row) and its flat
 * index step × classes + class in the [steps, classes] output.
 */
export function resolveSteps(
  target: StepTarget | readonly StepTarget[],
  outputs: Float32Array,
  count: number,
  outputShape: Shape,
): { indices: Int32Array; used: StepTarget[] } {
  if (outputShape.length !== 2)
    throw new GradlensError(
      'BAD_PARAMS',
      `a step target needs an output of [steps, classes] per sample; this model's is [${outputShape.join(', ')}]`,
    );
  const [steps, classes] = outputShape as [number, number];
  const list: readonly StepTarget[] = 'step' in target ? Array.from({ length: count }, () => target) : target;
  if (list.length !== count) throw new GradlensError('BAD_PARAMS', `${list.length} step targets for ${count} inputs`);
  const used = list.map(({ step, class: chosen }, i) => {
    if (!Number.isInteger(step) || step < 0 || step >= steps)
      throw new GradlensError('BAD_PARAMS', `target step ${step} is not a time step in [0, ${steps}) of the output [${steps}, ${classes}]`);
    if (chosen !== 'top1' && (!Number.isInteger(chosen) || chosen < 0 || chosen >= classes))
      throw new GradlensError('BAD_PARAMS', `target class ${chosen} is not a class index in [0, ${classes})`);
    const row = outputs.subarray((i * steps + step) * classes, (i * steps + step + 1) * classes);
    return { step, class: resolveTargets(chosen, row, 1, classes)[0]! };
  });
  return { indices: Int32Array.from(used, ({ step, class: chosen }) => step * classes + chosen), used };
}

/** One sample's output weights for a region or mask target (validated against the output's shape). */
export function targetMask(target: RegionTarget | MaskTarget, outputShape: Shape): Float32Array {
  const size = sizeOf(outputShape);
  if ('mask' in target) {
    if (!(target.mask instanceof Float32Array) || target.mask.length !== size)
      throw new GradlensError(
        'BAD_PARAMS',
        `a mask target needs ${size} weights (the output [${outputShape.join(', ')}]), got ${target.mask.length}`,
      );
    if (target.mask.some((w) => !Number.isFinite(w))) throw new GradlensError('BAD_PARAMS', 'the mask target holds a NaN or infinite weight');
    if (target.mask.every((w) => w === 0)) throw new GradlensError('BAD_PARAMS', 'the mask target is all zeros: it selects nothing');
    return target.mask;
  }
  if (outputShape.length !== 2 && outputShape.length !== 3)
    throw new GradlensError(
      'BAD_PARAMS',
      `a region target needs an output of [height, width] or [channels, height, width]; this one is [${outputShape.join(', ')}]`,
    );
  const [channels, height, width] = (outputShape.length === 3 ? outputShape : [1, ...outputShape]) as [number, number, number];
  const [x0, y0, x1, y1] = target.region;
  const channel = target.channel ?? 0;
  const inside = (v: number, low: number, high: number) => Number.isInteger(v) && v >= low && v <= high;
  if (
    target.region.length !== 4 ||
    !inside(x0, 0, width - 1) ||
    !inside(x1, x0 + 1, width) ||
    !inside(y0, 0, height - 1) ||
    !inside(y1, y0 + 1, height)
  )
    throw new GradlensError(
      'BAD_PARAMS',
      `region [${target.region.join(', ')}] is not x0,y0,x1,y1 with 0 ≤ x0 < x1 ≤ ${width}, 0 ≤ y0 < y1 ≤ ${height}`,
    );
  if (!inside(channel, 0, channels - 1)) throw new GradlensError('BAD_PARAMS', `region channel ${channel} is not in [0, ${channels})`);
  const mask = new Float32Array(size);
  for (let y = y0; y < y1; y++) mask.fill(1, (channel * height + y) * width + x0, (channel * height + y) * width + x1);
  return mask;
}

/** The graph with a target head: output Σ mask ⊙ output per sample, as one logit ([batch, 1]), whose gradient is the mask. */
export function withTargetHead(graph: Graph, mask: Float32Array, outputShape: Shape): Graph {
  const name = (what: string) => `${graph.output}:target ${what}`;
  const axes = outputShape.map((_, d) => d + 1);
  return {
    name: graph.name,
    input: graph.input,
    inputShape: graph.inputShape,
    output: name('score'),
    constants: new Map([...graph.constants, [name('mask'), { shape: [1, ...outputShape], data: mask }]]),
    nodes: [
      ...graph.nodes,
      { name: name('weighting'), op: 'Mul', inputs: [graph.output, name('mask')], outputs: [name('weighted')], attributes: {} },
      { name: name('sum'), op: 'ReduceSum', inputs: [name('weighted')], outputs: [name('sum')], attributes: { axes, keepdims: 1 } },
      { name: name('flatten'), op: 'Flatten', inputs: [name('sum')], outputs: [name('score')], attributes: { axis: 1 } },
    ],
  };
}
