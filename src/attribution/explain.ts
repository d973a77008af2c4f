import { GradlensError } from '../gpu/errors.ts';
import { sizeOf } from '../graph/ir.ts';
import type { Model } from '../graph/model.ts';
import { withDefaults } from './options.ts';
import { METHODS } from './registry.ts';
import { logitsOf, resolveTargets, scoresOf } from './targets.ts';
import { noiseTunnel } from './tunnel.ts';
import type { ExplainOptions, Explanation, MethodContext, MethodResult } from './types.ts';

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
  const compiled = model.gpu.kernels.compiled.ms;
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
  const score = options.score ?? 'logit';
  const classes = sizeOf(model.outputShape);
  const logits = await logitsOf(model, inputs, count);
  const targets = resolveTargets(options.target ?? 'top1', logits, count, classes);
  const scores = scoresOf(logits, targets, classes, score);
  const result = await run({ model, inputs, count, size, targets, scores, score, seed, options, run });
  const explanation: Explanation = {
    method: options.method,
    attribution: result.attribution,
    shape: [count, ...model.graph.inputShape],
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
  return explanation;
}
