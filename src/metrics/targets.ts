import { sizeOf } from '../graph/ir.ts';
import { modelOf, type AnyModel } from '../lens.ts';
import type { ScoreKind } from '../graph/plan.ts';
import { logitsOf, resolveTargets, scoresOf, type Target } from '../attribution/targets.ts';

/** The class each input is scored at (given, or top-1 of the unperturbed input) and those inputs' scores. */
export async function scoredTargets(
  handle: AnyModel,
  inputs: Float32Array,
  count: number,
  target: Target | Int32Array = 'top1',
  score: ScoreKind = 'logit',
) {
  const model = await modelOf(handle);
  const classes = sizeOf(model.outputShape);
  const logits = await logitsOf(model, inputs, count);
  const targets = target instanceof Int32Array ? target : resolveTargets(target, logits, count, classes);
  return { targets, scores: scoresOf(logits, targets, classes, score), classes };
}

/** Scores of points whose input is source[p], each at its input's target. */
export function pointScores(logits: Float32Array, source: ArrayLike<number>, targets: Int32Array, classes: number, score: ScoreKind): Float32Array {
  return scoresOf(
    logits,
    Int32Array.from({ length: source.length }, (_, p) => targets[source[p]!]!),
    classes,
    score,
  );
}
