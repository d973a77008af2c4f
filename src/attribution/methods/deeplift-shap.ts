import { GradlensError } from '../../gpu/errors.ts';
import type { Method, MethodDescription } from '../types.ts';

/**
 * DeepLiftShap (Captum's): DeepLift against each baseline of a set, averaged. Every (input, baseline) pair goes to
 * DeepLift in one call (each input repeated k times against the set, as Captum's repeat_interleave), so the pairs are
 * batched like any inputs; the delta is the mean of theirs, Σ attribution − (f(x) − mean_b f(b)).
 */
const deepLiftShap: Method = async (context) => {
  const { count, size } = context;
  const set = context.options.baselines;
  if (!set || set.length === 0 || set.length % size !== 0) {
    throw new GradlensError('BAD_PARAMS', `deeplift-shap needs \`baselines\`: a set of k references (k × ${size} values)`);
  }
  const k = set.length / size;
  const inputs = new Float32Array(count * k * size);
  const references = new Float32Array(count * k * size);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < k; j++) {
      inputs.set(context.inputs.subarray(i * size, (i + 1) * size), (i * k + j) * size);
      references.set(set.subarray(j * size, (j + 1) * size), (i * k + j) * size);
    }
  }
  const targets = Int32Array.from({ length: count * k }, (_, p) => context.targets[Math.floor(p / k)]!);
  const scores = Float32Array.from({ length: count * k }, (_, p) => context.scores[Math.floor(p / k)]!);
  // The inner call's inputs are the pairs: the caller's stream ids (one per input) do not apply to them.
  const { streams: _streams, baselines: _set, ...options } = context.options;
  const result = await context.run({
    ...context,
    inputs,
    count: count * k,
    targets,
    scores,
    options: { ...options, method: 'deeplift', baseline: references },
  });
  const mean = (values: Float32Array, per: number) =>
    Float32Array.from({ length: count * per }, (_, n) => {
      const [i, e] = [Math.floor(n / per), n % per];
      let sum = 0;
      for (let j = 0; j < k; j++) sum += values[(i * k + j) * per + e]!;
      return sum / k;
    });
  return {
    attribution: mean(result.attribution, size),
    ...(result.delta ? { delta: mean(result.delta, 1) } : {}),
    points: result.points,
    chunks: result.chunks,
    chunkSize: result.chunkSize,
    used: { baselineCount: k },
  };
};

export default {
  id: 'deeplift-shap',
  summary: 'DeepLiftShap (Lundberg 2017, as Captum): DeepLift averaged over a set of references',
  run: deepLiftShap,
  options: { baselines: { kind: 'baseline-set', doc: 'the references DeepLift is averaged over (k × input size); required' } },
  capabilities: { layer: false, delta: true, timesInput: true, random: false, tunnel: 'calls' },
  captum: { call: 'DeepLiftShap(model).attribute(x, baselines, target, return_convergence_delta=True)' },
} satisfies MethodDescription;
