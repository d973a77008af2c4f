import { allocate, readFloats, upload } from '../../gpu/buffers.ts';
import { CommandBatch } from '../../gpu/commands.ts';
import { GradlensError } from '../../gpu/errors.ts';
import { sizeOf } from '../../graph/ir.ts';
import type { Plan } from '../../graph/plan.ts';
import {
  blurAxes,
  idgiCoefficients,
  pathAccumulate,
  pathBlurPoints,
  pathFinalize,
  pathLinePoints,
  POINT_WORDS,
  type PathFold,
} from '../../kernels/paths.ts';
import { makeBaselines, type Baseline } from '../baselines.ts';
import type { MethodContext } from '../explain.ts';
import type { Method } from '../methods.ts';
import { scoresOf } from '../targets.ts';

/** Options of the path methods beyond integrated gradients (Blur IG, Guided IG, IDGI, Split IG). */
export interface PathOptions {
  /** Blur IG (and IDGI on its path): the blur σ, in pixels, where the path starts. Default 50, PAIR saliency's `max_sigma`. */
  maxSigma?: number;
  /** Blur IG: the σ step of the forward difference that approximates ∂x_σ/∂σ. Default 0.01, PAIR's `grad_step`. */
  gradStep?: number;
  /** Guided IG: the fraction of features, those of smallest |gradient|, moved at each step. Default 0.25, PAIR's `fraction`. */
  fraction?: number;
  /** Guided IG: how far (in α, 0 … 1) a feature may run ahead of or behind the straight line. Default 0.02, PAIR's `max_dist`. */
  maxDist?: number;
  /**
   * IDGI: whose path and gradients the steps take (Yang 2023 apply it to IG, Blur IG and Guided IG). Default
   * 'integrated-gradients', on the uniform grid α_j = j/steps. `steps` defaults to the base's: 50, 100, 200.
   */
  base?: 'integrated-gradients' | 'blur-ig' | 'guided-ig';
  /**
   * Split IG: the path is split at the first step whose score has covered this fraction of f(x) − f(b); only the part
   * before it is integrated. Default 0.95, the ratio of the authors' experiments (Miglani et al. 2020's notebook,
   * github.com/vivekmig/captum-1, `split_ratio = 0.95`).
   */
  splitRatio?: number;
}

const DEFAULT_BUDGET = 256 * 2 ** 20;

/** Point descriptors in shaders/paths.wgsl's `info` layout, pushed in path order and sorted by input. */
class PathPoints {
  private readonly words: Uint32Array<ArrayBuffer>;
  private readonly floats: Float32Array<ArrayBuffer>;
  length = 0;

  constructor(capacity: number) {
    this.words = new Uint32Array(Math.max(capacity, 1) * POINT_WORDS);
    this.floats = new Float32Array(this.words.buffer);
  }

  /** A point of input `input`; `next` when the following point is its successor on the path (IDGI's Δf). */
  push(input: number, alpha: number, weight: number, next: boolean, taps: Taps = [0, 0], tapsStep: Taps = taps): void {
    const at = this.length++ * POINT_WORDS;
    this.words.set([input, 0, 0, Number(next), ...taps, ...tapsStep], at);
    this.floats[at + 1] = alpha;
    this.floats[at + 2] = weight;
  }

  input(p: number): number {
    return this.words[p * POINT_WORDS]!;
  }

  hasNext(p: number): boolean {
    return this.words[p * POINT_WORDS + 3] === 1;
  }

  /** The descriptors of points start … start + count − 1; the last one's successor is outside the chunk. */
  chunk(start: number, count: number): Uint32Array<ArrayBuffer> {
    const words = this.words.slice(start * POINT_WORDS, (start + count) * POINT_WORDS);
    words[(count - 1) * POINT_WORDS + 3] = 0;
    return words;
  }
}

/** Offset into the taps buffer and radius. */
type Taps = readonly [number, number];

/**
 * scipy.ndimage's Gaussian kernels, as PAIR's Blur IG gets them from `gaussian_filter` (truncate 4: radius ⌊4σ + ½⌋,
 * weights exp(−t²/2σ²) normalised to sum 1), one per σ used, concatenated; σ = 0 is the identity.
 */
class GaussianTaps {
  private readonly index = new Map<number, Taps>();
  private readonly weights: number[] = [];

  of(sigma: number): Taps {
    let taps = this.index.get(sigma);
    if (!taps) {
      const radius = Math.trunc(4 * sigma + 0.5);
      const phi = Array.from({ length: 2 * radius + 1 }, (_, t) => (radius === 0 ? 1 : Math.exp((-0.5 / (sigma * sigma)) * (t - radius) ** 2)));
      const sum = phi.reduce((a, b) => a + b, 0);
      taps = [this.weights.length, radius];
      this.weights.push(...phi.map((w) => w / sum));
      this.index.set(sigma, taps);
    }
    return taps;
  }

  data(): Float32Array {
    return Float32Array.from(this.weights.length > 0 ? this.weights : [0]);
  }
}

interface PathSpec {
  points: PathPoints;
  /** Points on the line b + α(x − b) from these baselines, or Gaussian blurs of x. */
  make: { line: Float32Array } | { blur: GaussianTaps };
  /** What the gradients become; 'none' runs the forward pass only and keeps each point's logits. */
  fold: PathFold | 'none';
  /** Multiply the sums by x − b at the end (integrated gradients). */
  multiply?: boolean;
  /** Where this run sits in a method of several runs: points done before it, and the method's total. */
  progress?: { before: number; total: number };
  /** The point count depends on the input (Split IG's kept steps): round the chunk up to a power of two, so calls share plans. */
  varyingCount?: boolean;
}

interface PathRun {
  /** count × size: the folded sums. */
  sums: Float32Array;
  /** Per point: its score (gradient runs) or its logits (forward-only runs). */
  values: Float32Array;
  points: number;
  chunks: number;
  chunkSize: number;
}

/**
 * The engine's loop for point lists the straight-line engine cannot express (blurred points, per-input path lengths,
 * the score at each point): chunks of points made on the GPU, through the model, folded into per-input sums on the
 * GPU, with the scores (or logits) of every point and the sums read back once at the end. For IDGI a chunk that ends
 * inside a path hands its last point to the next chunk, so every Δf is taken inside one chunk.
 */
async function runPath(context: MethodContext, spec: PathSpec): Promise<PathRun> {
  const { model, size, count, options } = context;
  const { gpu } = model;
  const { device } = gpu;
  const total = spec.points.length;
  const blur = 'blur' in spec.make ? spec.make.blur : undefined;
  const idgi = spec.fold === 'idgi';
  const perPoint = spec.fold === 'none' ? sizeOf(model.outputShape) : 1;
  const extraBytes = (blur ? size * 4 : 0) + (spec.fold === 'direction' ? size * 4 : 0);
  const chunkSize = await chunkSizeFor(context, spec.varyingCount ? 2 ** Math.ceil(Math.log2(total)) : total, extraBytes, idgi ? 2 : 1);
  const plan = await model.cachedPlan({ batch: chunkSize, seed: spec.fold === 'none' ? 'none' : context.score, rules: 'standard' });
  const resultFloats = count * size + total * perPoint;
  const owned = [
    await upload(device, 'path inputs', context.inputs),
    await upload(device, 'path baselines', 'line' in spec.make ? spec.make.line : new Float32Array(1)),
    await upload(device, 'path taps', blur ? blur.data() : new Float32Array(1)),
    ...(await allocate(device, [
      { label: 'path points info', size: chunkSize * POINT_WORDS * 4 },
      { label: 'path blur scratch', size: blur ? chunkSize * size * 4 : 4 },
      { label: 'path direction', size: spec.fold === 'direction' ? chunkSize * size * 4 : 4 },
      { label: 'path norms', size: idgi ? chunkSize * 4 : 4 },
      { label: 'path coefficients', size: idgi ? chunkSize * 4 : 4 },
      { label: 'path results', size: resultFloats * 4 },
    ])),
  ];
  const [inputs, baselines, taps, info, scratch, direction, norms, coefficients, results] = owned as [
    GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer,
  ];
  const axes = blur ? blurAxes(model.graph.inputShape) : undefined;
  const points = plan.buffers.input;
  try {
    let [start, chunks, evaluated] = [0, 0, 0];
    while (start < total) {
      options.signal?.throwIfAborted();
      const chunkCount = Math.min(chunkSize, total - start);
      const dims = { size, chunkCount };
      device.queue.writeBuffer(info, 0, spec.points.chunk(start, chunkCount));
      const batch = new CommandBatch(device, `${options.method} chunk ${chunks}`);
      if (axes) {
        const io = { inputs, info, taps, scratch, points, direction };
        batch.add(...(await pathBlurPoints(gpu, io, { ...dims, axes, second: false })));
        if (spec.fold === 'direction') batch.add(...(await pathBlurPoints(gpu, io, { ...dims, axes, second: true })));
      } else {
        batch.add(await pathLinePoints(gpu, { inputs, baselines, info, points }, dims));
      }
      batch.add(...plan.dispatches);
      if (spec.fold === 'none') {
        batch.copy(plan.buffers.output, results, chunkCount * perPoint * 4, 0, (count * size + start * perPoint) * 4);
      } else {
        writeTargets(device, plan, context.targets, spec.points, start, chunkCount);
        const [gradients, scores] = [plan.buffers.inputGradient!, plan.buffers.score!];
        if (idgi) batch.add(...(await idgiCoefficients(gpu, { info, gradients, scores, norms, coefficients }, dims)));
        const firstInput = spec.points.input(start);
        const chunkInputs = spec.points.input(start + chunkCount - 1) - firstInput + 1;
        const io = { info, gradients, direction, coefficients, sums: results };
        batch.add(await pathAccumulate(gpu, io, { ...dims, firstInput, chunkInputs, fold: spec.fold }));
        batch.copy(scores, results, chunkCount * 4, 0, (count * size + start) * 4);
      }
      await batch.submit();
      chunks++;
      evaluated += chunkCount;
      const done = start + chunkCount;
      start = idgi && spec.points.hasNext(done - 1) ? done - 1 : done;
      if (options.onProgress) {
        await device.queue.onSubmittedWorkDone();
        options.onProgress({ done: (spec.progress?.before ?? 0) + done, total: spec.progress?.total ?? total });
      }
    }
    if (spec.multiply) {
      const finalize = await pathFinalize(gpu, { inputs, baselines, sums: results }, { size, inputs: count });
      await new CommandBatch(device, `${options.method} finalize`).add(finalize).submit();
    }
    const data = await readFloats(device, results, resultFloats);
    return { sums: data.slice(0, count * size), values: data.slice(count * size), points: evaluated, chunks, chunkSize };
  } finally {
    owned.forEach((buffer) => buffer.destroy());
  }
}

/** Each point's target is its input's. */
function writeTargets(device: GPUDevice, plan: Plan, targets: Int32Array, points: PathPoints, start: number, count: number): void {
  const chunk = new Int32Array(plan.batch);
  for (let j = 0; j < count; j++) chunk[j] = targets[points.input(start + j)]!;
  device.queue.writeBuffer(plan.buffers.target!, 0, chunk);
}

/**
 * Points per chunk: the request's `chunkSize`, or as many as fit the memory budget (a batch-1 plan's buffers plus
 * this method's own per-point buffers) and the device's binding limit, as the engine decides; at least `least`.
 */
async function chunkSizeFor(context: MethodContext, total: number, extraBytes: number, least: number): Promise<number> {
  const { model, options } = context;
  const most = Math.max(total, least);
  if (options.chunkSize !== undefined) {
    if (!Number.isInteger(options.chunkSize) || options.chunkSize < least) {
      throw new GradlensError('BAD_PARAMS', `${options.method} needs chunkSize to be an integer ≥ ${least}, got ${options.chunkSize}`);
    }
    return Math.min(options.chunkSize, most);
  }
  const probe = await model.cachedPlan({ batch: 1, seed: 'logit' });
  const perPoint = Math.max(probe.slotBytes + extraBytes, 1);
  const activations = [...probe.shapes].filter(([name]) => !model.graph.constants.has(name));
  const largest = Math.max(context.size * 4, ...activations.map(([, shape]) => sizeOf(shape) * 4));
  const byBinding = Math.floor(model.gpu.device.limits.maxStorageBufferBindingSize / largest);
  return Math.max(least, Math.min(most, Math.floor((options.memoryBudget ?? DEFAULT_BUDGET) / perPoint), byBinding));
}

interface GuidedSettings {
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
async function guidedPath(context: MethodContext, baselines: Float32Array, settings: GuidedSettings, idgi: boolean): Promise<GuidedRun> {
  const { count, size, options } = context;
  const chunkSize = await chunkSizeFor(context, count, 0, 1);
  const plan = await context.model.cachedPlan({ batch: chunkSize, seed: context.score, rules: 'standard' });
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
  let chunks = 0;
  for (let step = 0; step < evaluations; step++) {
    options.signal?.throwIfAborted();
    const current = await evaluate(context, plan, x);
    chunks += Math.ceil(count / plan.batch);
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
    options.onProgress?.({ done: step + 1, total: evaluations });
  }
  const run: GuidedRun = { attribution, startScores, endScores: previous!.scores, points: evaluations * count, chunks, chunkSize: plan.batch };
  if (idgiAttribution) run.idgi = idgiAttribution;
  return run;
}

interface Evaluation {
  gradients: Float32Array;
  scores: Float32Array;
}

/** Gradients and scores at one point per input, in batches of the plan's size. */
async function evaluate(context: MethodContext, plan: Plan, x: Float64Array): Promise<Evaluation> {
  const { count, size, targets } = context;
  const gradients = new Float32Array(count * size);
  const scores = new Float32Array(count);
  for (let start = 0; start < count; start += plan.batch) {
    const n = Math.min(plan.batch, count - start);
    const input = new Float32Array(plan.batch * size);
    input.set(x.subarray(start * size, (start + n) * size));
    const target = Array.from({ length: plan.batch }, (_, j) => targets[Math.min(start + j, count - 1)]!);
    const result = await plan.run({ input, target });
    if (!result.inputGradient || !result.score) {
      throw new GradlensError('BAD_MODEL', 'no gradient reaches the model input, so a path method has nothing to integrate');
    }
    gradients.set(result.inputGradient.subarray(0, n * size), start * size);
    scores.set(result.score.subarray(0, n), start);
  }
  return { gradients, scores };
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

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new GradlensError('BAD_PARAMS', `${name} must be a positive integer, got ${value}`);
  return value;
}

function inRange(name: string, value: number, low: number, high: number, openLow = false): number {
  if (!(Number.isFinite(value) && (openLow ? value > low : value >= low) && value <= high)) {
    throw new GradlensError('BAD_PARAMS', `${name} must be in ${openLow ? '(' : '['}${low}, ${high}], got ${value}`);
  }
  return value;
}

/** Σ attribution − (f at the path's end − f at its start), per input. */
function completenessDelta(context: MethodContext, attribution: ArrayLike<number>, change: (i: number) => number): Float32Array {
  return Float32Array.from({ length: context.count }, (_, i) => {
    let sum = 0;
    for (let e = 0; e < context.size; e++) sum += attribution[i * context.size + e]!;
    return sum - change(i);
  });
}

function baselinesOf(context: MethodContext): { baselines: Float32Array; name: unknown } {
  const baseline: Baseline = context.options.baseline ?? 'zeros';
  const baselines = makeBaselines(baseline, context.inputs, context.count, context.model.graph.inputShape, context.seed);
  return { baselines, name: baseline instanceof Float32Array ? 'tensor' : baseline };
}

/** σ_k = k·maxSigma/steps, k = 0 … steps, as PAIR's Blur IG spaces them (its `sqrt=False`). */
function blurSchedule(context: MethodContext) {
  const steps = positiveInteger('steps', context.options.steps ?? 100);
  const maxSigma = inRange('maxSigma', context.options.maxSigma ?? 50, 0, Number.MAX_VALUE, true);
  const sigmas = Array.from({ length: steps + 1 }, (_, k) => (k * maxSigma) / steps);
  return { steps, maxSigma, sigmas };
}

/**
 * Blur IG (Xu et al. 2020) as PAIR's BlurIG.GetMask computes it: with σ_k = k·σ_max/N,
 *   attribution = −Σ_{k<N} (σ_{k+1} − σ_k) · g(x_{σ_k}) ⊙ (blur(x, σ_k + h) − blur(x, σ_k)) / h,
 * a forward difference of step h = gradStep for ∂x_σ/∂σ and the gradient at the less-blurred end of each step; the sign
 * turns the sum over σ upward into the path from σ_max down to 0. One more point, at σ_N, only gives f(blur(x, σ_max))
 * for the delta Σ attribution − (f(x) − f(blur(x, σ_max))).
 */
const blurIg: Method = async (context) => {
  const { steps, maxSigma, sigmas } = blurSchedule(context);
  const gradStep = inRange('gradStep', context.options.gradStep ?? 0.01, 0, Number.MAX_VALUE, true);
  const taps = new GaussianTaps();
  const points = new PathPoints(context.count * (steps + 1));
  for (let i = 0; i < context.count; i++) {
    for (let k = 0; k <= steps; k++) {
      if (k === steps) points.push(i, 0, 0, false, taps.of(sigmas[k]!));
      else points.push(i, 0, -(sigmas[k + 1]! - sigmas[k]!) / gradStep, true, taps.of(sigmas[k]!), taps.of(sigmas[k]! + gradStep));
    }
  }
  const run = await runPath(context, { points, make: { blur: taps }, fold: 'direction' });
  const score = (i: number, k: number) => run.values[i * (steps + 1) + k]!;
  const delta = completenessDelta(context, run.sums, (i) => score(i, 0) - score(i, steps));
  return { attribution: run.sums, delta, points: run.points, chunks: run.chunks, chunkSize: run.chunkSize, used: { steps, maxSigma, gradStep } };
};

function guidedSettings(context: MethodContext): GuidedSettings {
  return {
    steps: positiveInteger('steps', context.options.steps ?? 200),
    fraction: inRange('fraction', context.options.fraction ?? 0.25, 0, 1, true),
    maxDist: inRange('maxDist', context.options.maxDist ?? 0.02, 0, 1),
  };
}

/** Guided IG (Kapishnikov et al. 2021), PAIR's GuidedIG.GetMask: steps (x_steps) 200, fraction 0.25, max_dist 0.02. */
const guidedIg: Method = async (context) => {
  const settings = guidedSettings(context);
  const { baselines, name } = baselinesOf(context);
  const run = await guidedPath(context, baselines, settings, false);
  const attribution = Float32Array.from(run.attribution);
  const delta = completenessDelta(context, attribution, (i) => context.scores[i]! - run.startScores[i]!);
  return { attribution, delta, points: run.points, chunks: run.chunks, chunkSize: run.chunkSize, used: { ...settings, baseline: name } };
};

/**
 * IDGI (Yang et al. 2023): on the base method's path x_0 … x_N, attribution = Σ_j g_j² (f(x_{j+1}) − f(x_j)) / ‖g_j‖²
 * (the authors' idgi.py), so Σ attribution = f(x_N) − f(x_0) exactly; the delta reports how far f32 leaves it (a step
 * whose gradient is zero drops its Δf). The gradient of each step is the one its base uses: at x_j on IG's line
 * α_j = j/N; at the less-blurred end on Blur IG's σ grid; at the step's start on Guided IG's path.
 */
const idgi: Method = async (context) => {
  const base = context.options.base ?? 'integrated-gradients';
  if (base === 'guided-ig') {
    const settings = guidedSettings(context);
    const { baselines, name } = baselinesOf(context);
    const run = await guidedPath(context, baselines, settings, true);
    const attribution = Float32Array.from(run.idgi!);
    const delta = completenessDelta(context, attribution, (i) => run.endScores[i]! - run.startScores[i]!);
    return { attribution, delta, points: run.points, chunks: run.chunks, chunkSize: run.chunkSize, used: { base, ...settings, baseline: name } };
  }
  let spec: PathSpec;
  let steps: number;
  let used: Record<string, unknown>;
  if (base === 'blur-ig') {
    const schedule = blurSchedule(context);
    steps = schedule.steps;
    const taps = new GaussianTaps();
    const points = new PathPoints(context.count * (steps + 1));
    // Stored by σ upward, so the path's Δf from σ_{k+1} to σ_k is −(f_{k+1} − f_k): weight −1.
    for (let i = 0; i < context.count; i++) for (let k = 0; k <= steps; k++) points.push(i, 0, -1, k < steps, taps.of(schedule.sigmas[k]!));
    spec = { points, make: { blur: taps }, fold: 'idgi' };
    used = { base, steps, maxSigma: schedule.maxSigma };
  } else if (base === 'integrated-gradients') {
    steps = positiveInteger('steps', context.options.steps ?? 50);
    const { baselines, name } = baselinesOf(context);
    const points = new PathPoints(context.count * (steps + 1));
    for (let i = 0; i < context.count; i++) for (let j = 0; j <= steps; j++) points.push(i, j / steps, 1, j < steps);
    spec = { points, make: { line: baselines }, fold: 'idgi' };
    used = { base, steps, baseline: name };
  } else {
    throw new GradlensError('BAD_PARAMS', `unknown IDGI base "${base as string}" (use integrated-gradients, blur-ig or guided-ig)`);
  }
  const run = await runPath(context, spec);
  const score = (i: number, j: number) => run.values[i * (steps + 1) + j]!;
  const sign = base === 'blur-ig' ? -1 : 1;
  const delta = completenessDelta(context, run.sums, (i) => sign * (score(i, steps) - score(i, 0)));
  return { attribution: run.sums, delta, points: run.points, chunks: run.chunks, chunkSize: run.chunkSize, used };
};

/**
 * Split IG (Miglani et al. 2020, "Investigating Saturation Effects in Integrated Gradients"), as the authors' notebook
 * computes it: IG with riemann_right over `steps` (200) points α_k = k/N; the split is the first k whose score has
 * passed f(b) + splitRatio·(f(x) − f(b)) (past meaning beyond, in the direction of f(x) − f(b)); only the steps before
 * it are integrated, so the left part covers α ∈ [0, α_split]. A first forward-only pass finds the scores, a second
 * takes gradients at the kept points only. No change in f (or none passing the threshold) keeps the whole path.
 * `used.splitAlpha` reports α_split per input; the delta is Σ attribution − (f(x_{α_split}) − f(b)).
 */
const splitIg: Method = async (context) => {
  const { count, size } = context;
  const steps = positiveInteger('steps', context.options.steps ?? 200);
  const splitRatio = inRange('splitRatio', context.options.splitRatio ?? 0.95, 0, 1);
  const { baselines, name } = baselinesOf(context);
  const line = new PathPoints(count * (steps + 1));
  for (let i = 0; i < count; i++) for (let k = 0; k <= steps; k++) line.push(i, k / steps, 0, false);
  // Progress counts the second pass at its most (every step kept) until the split is known.
  const scanProgress = { before: 0, total: line.length + count * steps };
  const scan = await runPath(context, { points: line, make: { line: baselines }, fold: 'none', progress: scanProgress });
  const pointTargets = Int32Array.from({ length: count * (steps + 1) }, (_, p) => context.targets[Math.floor(p / (steps + 1))]!);
  const scores = scoresOf(scan.values, pointTargets, sizeOf(context.model.outputShape), context.score);
  const score = (i: number, k: number) => scores[i * (steps + 1) + k]!;
  const kept = Array.from({ length: count }, (_, i) => {
    const change = score(i, steps) - score(i, 0);
    const threshold = score(i, 0) + splitRatio * change;
    for (let k = 1; k <= steps && change !== 0; k++) if (Math.sign(change) * (score(i, k) - threshold) > 0) return k - 1;
    return steps;
  });
  const left = new PathPoints(kept.reduce((a, b) => a + b, 0));
  kept.forEach((n, i) => {
    for (let k = 1; k <= n; k++) left.push(i, k / steps, 1 / steps, false);
  });
  const progress = { before: line.length, total: line.length + left.length };
  const spec: PathSpec = { points: left, make: { line: baselines }, fold: 'gradient', multiply: true, progress, varyingCount: true };
  const run = left.length > 0 ? await runPath(context, spec) : undefined;
  const attribution = run?.sums ?? new Float32Array(count * size);
  const delta = completenessDelta(context, attribution, (i) => score(i, kept[i]!) - score(i, 0));
  return {
    attribution,
    delta,
    points: scan.points + (run?.points ?? 0),
    chunks: scan.chunks + (run?.chunks ?? 0),
    chunkSize: scan.chunkSize,
    used: { steps, splitRatio, baseline: name, splitAlpha: kept.map((n) => n / steps) },
  };
};

export const pathMethods = {
  'blur-ig': blurIg,
  'guided-ig': guidedIg,
  idgi,
  'split-ig': splitIg,
} satisfies Record<string, Method>;
