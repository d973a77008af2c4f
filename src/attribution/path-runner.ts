/** The chunked runner of path methods whose points are made on the GPU (Blur IG, IDGI, Split IG). */
import { allocate, readFloats, upload } from '../gpu/buffers.ts';
import { CommandBatch } from '../gpu/commands.ts';
import { GradlensError } from '../gpu/errors.ts';
import { sizeOf } from '../graph/ir.ts';
import type { Plan } from '../graph/plan.ts';
import { blurAxes, idgiCoefficients, pathAccumulate, pathBlurPoints, pathFinalize, pathLinePoints, POINT_WORDS, type PathFold } from '../kernels/attribution/paths.ts';
import type { MethodContext } from './explain.ts';

const DEFAULT_BUDGET = 256 * 2 ** 20;

/** Point descriptors in shaders/paths.wgsl's `info` layout, pushed in path order and sorted by input. */
export class PathPoints {
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
export class GaussianTaps {
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

export interface PathSpec {
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

export interface PathRun {
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
export async function runPath(context: MethodContext, spec: PathSpec): Promise<PathRun> {
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
export async function chunkSizeFor(context: MethodContext, total: number, extraBytes: number, least: number): Promise<number> {
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
