import { GradlensError } from '../gpu/errors.ts';
import { modelOf, type AnyModel } from '../lens.ts';
import { explain, type ExplainOptions } from '../attribution/explain.ts';

export interface Completeness {
  /** Per input: Σ φ − (f(x) − f(baseline)), the method's own convergence delta. */
  delta: Float32Array;
  /** Mean |delta| over the dataset, and mean |delta| / |f(x) − f(baseline)|. */
  meanAbsolute: number;
  meanRelative: number;
}

/**
 * Completeness (Sundararajan 2017, Proposition 1) over a dataset: how far each attribution's sum is from the score's
 * change, from a method that reports a delta (integrated gradients, FullGrad).
 */
export async function completeness(
  handle: AnyModel,
  inputs: Float32Array,
  count: number,
  options: Partial<ExplainOptions> = {},
): Promise<Completeness> {
  const model = await modelOf(handle);
  const result = await explain(model, inputs, count, { method: 'integrated-gradients', ...options } as ExplainOptions);
  if (!result.delta) throw new GradlensError('BAD_PARAMS', `${result.method} reports no completeness delta: use integrated-gradients or fullgrad`);
  const size = inputs.length / count;
  let absolute = 0;
  let relative = 0;
  for (let i = 0; i < count; i++) {
    let sum = 0;
    for (let e = 0; e < size; e++) sum += result.attribution[i * size + e]!;
    const change = sum - result.delta[i]!; // f(x) − f(baseline)
    absolute += Math.abs(result.delta[i]!);
    relative += Math.abs(result.delta[i]!) / Math.max(Math.abs(change), 1e-12);
  }
  return { delta: result.delta, meanAbsolute: absolute / count, meanRelative: relative / count };
}
