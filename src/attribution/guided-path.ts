/** Guided IG's adaptive path (Kapishnikov et al. 2021), step by step on the CPU with every input batched per step. */
import { readFloats } from '../gpu/buffers.ts';
import { GradlensError } from '../gpu/errors.ts';
import { runJob, type RunStats } from './runner.ts';
import type { MethodContext } from './types.ts';

export interface GuidedSettings {
  steps: number;
  fraction: number;
  maxDist: number;
}

interface GuidedRun {
  attribution: Float64Array;
  /** IDGI over the same path: g_k² (f_{k+1} − f_k) / ‖g_k‖² summed over the steps. */
  idgi?: Float64Array;
  /** The score at the path's first point (the baseline) and, with IDGI, at its last. */
  startScores: Float32Array;
  endScores: Float32Array;
  points: number;
  chunks: number;
  chunkSize: number;
}

/**
 * Guided IG's adaptive path (Kapishnikov et al. 2021) as PAIR's `guided_ig_impl` walks it, in float64 on the CPU: each
 * step's point depends on the gradients at the last one, so the steps run one after another, every input of the call
 * in the same batch (DESIGN.md). With `idgi`, one more evaluation at the path's end gives the last Δf.
 */
export async function guidedPath(context: MethodContext, baselines: Float32Array, settings: GuidedSettings, idgi: boolean): Promise<GuidedRun> {
  const { count, size, options } = context;
  const input = Float64Array.from(context.inputs);
  const baseline = Float64Array.from(baselines);
  const x = baseline.slice();
  const attribution = new Float64Array(count * size);
  const idgiAttribution = idgi ? new Float64Array(count * size) : undefined;
  const part = (array: Float64Array, i: number) => array.subarray(i * size, (i + 1) * size);
  const l1Total = Array.from({ length: count }, (_, i) => l1Distance(part(input, i), part(baseline, i)));
  const evaluations = settings.steps + (idgi ? 1 : 0);
  let previous: Evaluation | undefined;
  let startScores: Float32Array = new Float32Array(count);
  let [chunks, chunkSize] = [0, 0];
  for (let step = 0; step < evaluations; step++) {
    options.signal?.throwIfAborted();
    const current = await evaluate(context, x, { before: step * count, total: evaluations * count });
    [chunks, chunkSize] = [chunks + current.chunks, current.chunkSize];
    if (step === 0) startScores = current.scores;
    if (idgiAttribution && previous) foldIdgi(idgiAttribution, previous, current.scores, size);
    if (step < settings.steps) {
      for (let i = 0; i < count; i++) {
        // PAIR returns zeros when the input equals the baseline.
        if (l1Total[i] === 0) continue;
        const gradient = current.gradients.subarray(i * size, (i + 1) * size);
        guidedStep(part(x, i), part(input, i), part(baseline, i), gradient, step, settings, l1Total[i]!, part(attribution, i));
      }
    }
    previous = current;
  }
  const run: GuidedRun = { attribution, startScores, endScores: previous!.scores, points: evaluations * count, chunks, chunkSize };
  if (idgiAttribution) run.idgi = idgiAttribution;
  return run;
}

interface Evaluation extends RunStats {
  gradients: Float32Array;
  scores: Float32Array;
}

/** Gradients and scores at one point per input, on the runner: the points are written, the results copied out. */
async function evaluate(context: MethodContext, x: Float64Array, progress: { before: number; total: number }): Promise<Evaluation> {
  const { count, size, model } = context;
  const { device } = model.gpu;
  const { result, ...stats } = await runJob(
    model,
    {
      label: 'guided-ig',
      total: count,
      plans: [{ objective: context.score, rules: 'standard' }],
      targets: { of: context.targets, inputOf: (p) => p },
      progress,
      async prepare(scope, _chunkSize, [plan]) {
        const { inputGradient, score } = plan!.buffers;
        if (!inputGradient || !score)
          throw new GradlensError('BAD_MODEL', 'no gradient reaches the model input, so a path method has nothing to integrate');
        const [gradients, scores] = (await scope.allocate([
          { label: 'guided-ig gradients', size: count * size * 4 },
          { label: 'guided-ig scores', size: count * 4 },
        ])) as [GPUBuffer, GPUBuffer];
        return {
          points: ({ start, count: n }) => {
            device.queue.writeBuffer(plan!.buffers.input, 0, Float32Array.from(x.subarray(start * size, (start + n) * size)));
            return [];
          },
          reduce: ({ start, count: n }) => [
            { source: inputGradient, target: gradients, size: n * size * 4, targetOffset: start * size * 4 },
            { source: score, target: scores, size: n * 4, targetOffset: start * 4 },
          ],
          finish: async () => ({ gradients: await readFloats(device, gradients, count * size), scores: await readFloats(device, scores, count) }),
        };
      },
    },
    context.options,
  );
  return { ...result, ...stats };
}

/** IDGI (Yang et al. 2023, Alg. 1) for one step of every input: attribution += g² (f_next − f) / ‖g‖². */
function foldIdgi(attribution: Float64Array, at: Evaluation, nextScores: Float32Array, size: number): void {
  for (let i = 0; i < nextScores.length; i++) {
    const g = at.gradients.subarray(i * size, (i + 1) * size);
    const norm = g.reduce((sum, v) => sum + v * v, 0);
    if (!(norm > 0)) continue; // the step's Δf has no direction to go to
    const c = (nextScores[i]! - at.scores[i]!) / norm;
    for (let e = 0; e < size; e++) attribution[i * size + e]! += g[e]! * g[e]! * c;
  }
}

const EPSILON = 1e-9;

function l1Distance(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let e = 0; e < a.length; e++) sum += Math.abs(a[e]! - b[e]!);
  return sum;
}

/** Python's math.isclose(a, b, rel_tol=EPSILON, abs_tol=EPSILON), as PAIR compares L1 distances. */
function isClose(a: number, b: number): boolean {
  return Math.abs(a - b) <= Math.max(EPSILON * Math.max(Math.abs(a), Math.abs(b)), EPSILON);
}

/** numpy.quantile(values, q, method='lower'): the ⌊(n − 1) q⌋-th smallest. */
function lowerQuantile(values: Float64Array, q: number): number {
  const sorted = values.slice().sort();
  return sorted[Math.floor((values.length - 1) * q)]!;
}

/**
 * One step of PAIR's `guided_ig_impl` (saliency/core/guided_ig.py) for one input: move the features of smallest
 * |gradient| toward the input until the L1 distance to it falls to l1Total·(1 − (step + 1)/steps), no feature leaving
 * the band α ± maxDist around the straight line; the attribution gains (x_new − x_old)·g. x and attribution change in place.
 */
function guidedStep(
  x: Float64Array,
  input: Float64Array,
  baseline: Float64Array,
  gradient: Float32Array,
  step: number,
  { steps, fraction, maxDist }: GuidedSettings,
  l1Total: number,
  attribution: Float64Array,
): void {
  const n = x.length;
  const alpha = (step + 1) / steps;
  const alphaMin = Math.max(alpha - maxDist, 0);
  const alphaMax = Math.min(alpha + maxDist, 1);
  const xMin = baseline.map((b, e) => b + (input[e]! - b) * alphaMin);
  const xMax = baseline.map((b, e) => b + (input[e]! - b) * alphaMax);
  const l1Target = l1Total * (1 - (step + 1) / steps);
  const grad = Float64Array.from(gradient);
  const magnitude = new Float64Array(n);
  const selected = new Uint8Array(n);
  let gamma = Infinity;
  while (gamma > 1) {
    const xOld = x.slice();
    for (let e = 0; e < n; e++) {
      const span = input[e]! - baseline[e]!;
      // A feature with no span has α NaN, which PAIR sets to α_max: never behind.
      if (span !== 0 && (x[e]! - baseline[e]!) / span < alphaMin) x[e] = xMin[e]!;
    }
    const l1Current = l1Distance(x, input);
    if (isClose(l1Target, l1Current)) {
      addMove(attribution, x, xOld, gradient);
      break;
    }
    for (let e = 0; e < n; e++) {
      if (x[e] === xMax[e]) grad[e] = Infinity; // reached the band's edge: not selectable again this step
      magnitude[e] = Math.abs(grad[e]!);
    }
    const threshold = lowerQuantile(magnitude, fraction);
    let l1Selected = 0;
    for (let e = 0; e < n; e++) {
      selected[e] = Number(magnitude[e]! <= threshold && grad[e] !== Infinity);
      if (selected[e]) l1Selected += Math.abs(x[e]! - xMax[e]!);
    }
    gamma = l1Selected > 0 ? (l1Current - l1Target) / l1Selected : Infinity;
    // PAIR asserts γ > 0 and would loop for ever with nothing left to select; both mean the target is out of reach.
    if (!(gamma > 0) || l1Selected === 0) {
      addMove(attribution, x, xOld, gradient);
      break;
    }
    for (let e = 0; e < n; e++) if (selected[e]) x[e] = gamma > 1 ? xMax[e]! : x[e]! + (xMax[e]! - x[e]!) * gamma;
    addMove(attribution, x, xOld, gradient);
  }
}

function addMove(attribution: Float64Array, x: Float64Array, xOld: Float64Array, gradient: Float32Array): void {
  for (let e = 0; e < x.length; e++) attribution[e]! += (x[e]! - xOld[e]!) * gradient[e]!;
}
