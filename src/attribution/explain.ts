import { GradlensError } from '../gpu/errors.ts';
import { sizeOf } from '../graph/ir.ts';
import type { Model } from '../graph/model.ts';
import { withDefaults } from './options.ts';
import { METHODS } from './registry.ts';
import { isOutputTarget, isStepList, isStepTarget, logitsOf, resolveSteps, resolveTargets, scoresOf, targetMask, withTargetHead } from './targets.ts';
import { noiseTunnel } from './tunnel.ts';
import type { ExplainOptions, Explanation, MaskTarget, MethodContext, MethodResult, RegionTarget } from './types.ts';

export type { ExplainOptions, Explanation, MethodContext, MethodResult } from './types.ts';

/** Runs the method the context's options name, its options completed by its schema, inside a tunnel if they ask. */
function run(context: MethodContext): Promise<MethodResult> {
  const description = METHODS[context.options.method];
  return noiseTunnel(description)({ ...context, options: withDefaults(description, context.options) });
}

/** Explains `count` inputs (count × input shape, row-major) with one method. */
export async function explain(model: Model, inputs: Float32Array, count: number, options: ExplainOptions): Promise<Explanation> {
  const started = performance.now();
  if (!Object.hasOwn(METHODS, options.method))
    throw new GradlensError('BAD_PARAMS', `unknown method "${options.method}" (known: ${Object.keys(METHODS).join(', ')})`);
  const size = sizeOf(model.graph.inputShape);
  if (!Number.isInteger(count) || count < 1 || inputs.length !== count * size) {
    throw new GradlensError(
      'BAD_INPUT',
      `expected ${count} inputs of [${model.graph.inputShape.join(', ')}] = ${count * size} values, got ${inputs.length}`,
    );
  }
  const target = options.target ?? 'top1';
  if (isOutputTarget(target)) {
    if ((options.score ?? 'logit') !== 'logit')
      throw new GradlensError('BAD_PARAMS', `an output target scores the output's own values: score 'logit', not '${options.score}'`);
    if (!('step' in target)) return explainHead(model, inputs, count, { ...options, target });
  }
  const compiled = model.gpu.kernels.compiled.ms;
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
  const score = options.score ?? 'logit';
  const classes = sizeOf(model.outputShape);
  const logits = await logitsOf(model, inputs, count, 64, options.memoryBudget);
  const steps = isStepTarget(target) || isStepList(target) ? resolveSteps(target, logits, count, model.outputShape) : undefined;
  const targets = steps?.indices ?? resolveTargets(target, logits, count, classes);
  const scores = scoresOf(logits, targets, classes, score);
  const result = await run({ model, inputs, count, size, targets, scores, score, seed, options, run });
  const explanation: Explanation = {
    method: options.method,
    attribution: result.attribution,
    shape: [count, ...(result.shape ?? model.graph.inputShape)],
    target: targets,
    score: scores,
    seed,
    options: { score, ...result.used },
    timing: {
      ms: performance.now() - started,
      compileMs: model.gpu.kernels.compiled.ms - compiled,
      points: result.points,
      chunks: result.chunks,
      chunkSize: result.chunkSize,
    },
  };
  if (result.delta) explanation.delta = result.delta;
  if (steps) explanation.outputTarget = steps.used;
  return explanation;
}

/** A region or mask target: the model with a head scoring Σ mask ⊙ output, explained at its one logit. */
async function explainHead(model: Model, inputs: Float32Array, count: number, options: ExplainOptions & { target: RegionTarget | MaskTarget }) {
  const mask = targetMask(options.target, model.outputShape);
  const head = await model.derive(withTargetHead(model.graph, mask, model.outputShape));
  try {
    const explanation = await explain(head, inputs, count, { ...options, target: 0 });
    return { ...explanation, outputTarget: Array.from({ length: count }, () => options.target) };
  } finally {
    head.destroy();
  }
}
