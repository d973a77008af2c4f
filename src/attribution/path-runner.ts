/** The chunked runner of path methods whose points are made on the GPU (Blur IG, IDGI, Split IG). */
import { readFloats } from '../gpu/buffers.ts';
import { CommandBatch } from '../gpu/commands.ts';
import { sizeOf } from '../graph/ir.ts';
import {
  blurAxes,
  idgiCoefficients,
  pathAccumulate,
  pathBlurPoints,
  pathFinalize,
  pathLinePoints,
  POINT_WORDS,
  type PathFold,
} from '../kernels/attribution/paths.ts';
import { runJob, type Job, type Step } from './runner.ts';
import type { MethodContext } from './types.ts';

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
 * Point lists the straight-line engine cannot express (blurred points, per-input path lengths, the score at each
 * point), on the runner: points made on the GPU, through the model, folded into per-input sums on the GPU, with the
 * scores (or logits) of every point and the sums read back once at the end. For IDGI a chunk that ends inside a path
 * hands its last point to the next chunk, so every Δf is taken inside one chunk.
 */
export async function runPath(context: MethodContext, spec: PathSpec): Promise<PathRun> {
  const { model, size, count, options } = context;
  const { gpu } = model;
  const { device } = gpu;
  const total = spec.points.length;
  const blur = 'blur' in spec.make ? spec.make.blur : undefined;
  const idgi = spec.fold === 'idgi';
  const perPoint = spec.fold === 'none' ? sizeOf(model.outputShape) : 1;
  const resultFloats = count * size + total * perPoint;
  const axes = blur ? blurAxes(model.graph.inputShape) : undefined;
  const job: Job<Float32Array> = {
    label: options.method,
    total,
    plans: [{ objective: spec.fold === 'none' ? 'none' : context.score, rules: 'standard' }],
    ...(spec.fold === 'none' ? {} : { targets: { of: context.targets, inputOf: (p: number) => spec.points.input(p) } }),
    bytesPerPoint: POINT_WORDS * 4 + (idgi ? 8 : 0) + (blur ? size * 4 : 0) + (spec.fold === 'direction' ? size * 4 : 0),
    // Inputs, baselines, taps, and the results with their readback copy.
    bytes: 4 * (context.inputs.length + ('line' in spec.make ? spec.make.line.length : 1) + (blur ? blur.data().length : 1) + 2 * resultFloats),
    least: idgi ? 2 : 1,
    ...(spec.varyingCount ? { roundUp: true } : {}),
    ...(spec.progress ? { progress: spec.progress } : {}),
    async prepare(scope, chunkSize, [plan]) {
      const inputs = await scope.upload('path inputs', context.inputs);
      const baselines = await scope.upload('path baselines', 'line' in spec.make ? spec.make.line : new Float32Array(1));
      const taps = await scope.upload('path taps', blur ? blur.data() : new Float32Array(1));
      const [info, scratch, direction, norms, coefficients, results] = (await scope.allocate([
        { label: 'path points info', size: chunkSize * POINT_WORDS * 4 },
        { label: 'path blur scratch', size: blur ? chunkSize * size * 4 : 4 },
        { label: 'path direction', size: spec.fold === 'direction' ? chunkSize * size * 4 : 4 },
        { label: 'path norms', size: idgi ? chunkSize * 4 : 4 },
        { label: 'path coefficients', size: idgi ? chunkSize * 4 : 4 },
        { label: 'path results', size: resultFloats * 4 },
      ])) as GPUBuffer[] as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
      const points = plan!.buffers.input;
      return {
        async points({ start, count: chunkCount }) {
          device.queue.writeBuffer(info, 0, spec.points.chunk(start, chunkCount));
          const dims = { size, chunkCount };
          if (!axes) return [await pathLinePoints(gpu, { inputs, baselines, info, points }, dims)];
          const io = { inputs, info, taps, scratch, points, direction };
          const steps = [...(await pathBlurPoints(gpu, io, { ...dims, axes, second: false }))];
          if (spec.fold === 'direction') steps.push(...(await pathBlurPoints(gpu, io, { ...dims, axes, second: true })));
          return steps;
        },
        async reduce({ start, count: chunkCount }) {
          if (spec.fold === 'none')
            return [
              { source: plan!.buffers.output, target: results, size: chunkCount * perPoint * 4, targetOffset: (count * size + start * perPoint) * 4 },
            ];
          const dims = { size, chunkCount };
          const [gradients, scores] = [plan!.buffers.inputGradient!, plan!.buffers.score!];
          const steps: Step[] = idgi ? [...(await idgiCoefficients(gpu, { info, gradients, scores, norms, coefficients }, dims))] : [];
          const firstInput = spec.points.input(start);
          const chunkInputs = spec.points.input(start + chunkCount - 1) - firstInput + 1;
          const io = { info, gradients, direction, coefficients, sums: results };
          steps.push(await pathAccumulate(gpu, io, { ...dims, firstInput, chunkInputs, fold: spec.fold as PathFold }));
          steps.push({ source: scores, target: results, size: chunkCount * 4, targetOffset: (count * size + start) * 4 });
          return steps;
        },
        next: ({ start, count: chunkCount }) => (idgi && spec.points.hasNext(start + chunkCount - 1) ? start + chunkCount - 1 : start + chunkCount),
        async finish(scope) {
          if (spec.multiply) {
            const finalize = await pathFinalize(gpu, { inputs, baselines, sums: results }, { size, inputs: count });
            await scope.record(new CommandBatch(device, `${options.method} finalize`), [finalize]).submit();
          }
          return readFloats(device, results, resultFloats);
        },
      };
    },
  };
  const { result, ...stats } = await runJob(model, job, options);
  return { sums: result.slice(0, count * size), values: result.slice(count * size), ...stats };
}
