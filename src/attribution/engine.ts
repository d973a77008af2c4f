import { allocate, readFloats, upload } from '../gpu/buffers.ts';
import { CommandBatch, gridFor } from '../gpu/commands.ts';
import { loopBudget } from '../gpu/limits.ts';
import { GradlensError } from '../gpu/errors.ts';
import type { Model } from '../graph/model.ts';
import type { BackwardRules } from '../graph/op.ts';
import type { Plan, ScoreKind } from '../graph/plan.ts';
import { sizeOf } from '../graph/ir.ts';
import { WORKGROUP_SIZE } from '../kernels/wgsl.ts';

/**
 * The virtual batch: for each of `count` inputs, `samples` noise samples × `steps` path points,
 *   point = b + α (x̃ − b),  x̃ = x + σ·ε,
 * gradients at every point folded into w_k·g·m on the GPU and combined over samples (DESIGN.md, "One idea at the centre").
 */
export interface PointSpec {
  inputs: Float32Array;
  count: number;
  /** One baseline per input (count × size), or a set to draw from per sample (GradientSHAP, expected gradients). */
  baselines: { perInput: Float32Array } | { set: Float32Array; setCount: number };
  /** Quadrature nodes and weights along the path; or α ~ U(0, 1) per sample, weight 1 (then steps = 1). */
  path: { alphas: ArrayLike<number>; weights: ArrayLike<number> } | 'random';
  samples: number;
  /** Noise σ per input (absolute); 0 for none. */
  stdev: Float32Array;
  multiply: 'none' | 'input' | 'input-minus-baseline';
  combine: 'mean' | 'mean-square' | 'variance';
  /** Each input's noise stream id (default its index): a stable id keeps an input's draws whatever its batch. */
  streams?: Uint32Array;
  /** Noise given instead of drawn (samples × count × size), e.g. another library's draws to compare with. */
  noise?: Float32Array;
  /** Absolute value of each point's term before combining (only with steps = 1, where a point is a sample). */
  absolute?: boolean;
  seed: number;
}

export interface EngineOptions {
  /** Resolved class per input. */
  targets: Int32Array;
  score: ScoreKind;
  rules?: BackwardRules;
  /** Points per chunk (like Captum's internal_batch_size); default from the memory budget and device limits. */
  chunkSize?: number;
  /** Bytes the plan's tensors may take; default 256 MiB. */
  memoryBudget?: number;
  signal?: AbortSignal;
  onProgress?: (progress: { done: number; total: number }) => void;
}

export interface EngineResult {
  attribution: Float32Array;
  points: number;
  chunks: number;
  chunkSize: number;
}

const MULTIPLY = { none: 0, input: 1, 'input-minus-baseline': 2 } as const;
const COMBINE = { mean: 0, 'mean-square': 1, variance: 2 } as const;
/** Loop guard cost of attribution_points (up to 4 Philox draws of 10 rounds) and per point of attribution_accumulate. */
const POINTS_ITERATIONS = 48;
const ACCUMULATE_ITERATIONS_PER_POINT = 1 + POINTS_ITERATIONS;
const DEFAULT_BUDGET = 256 * 2 ** 20;

/** Runs the points through the model in chunks, accumulating on the GPU; reads back one attribution per input. */
export async function integrate(model: Model, spec: PointSpec, options: EngineOptions): Promise<EngineResult> {
  const { gpu } = model;
  const { device } = gpu;
  const size = sizeOf(model.graph.inputShape);
  const steps = spec.path === 'random' ? 1 : spec.path.alphas.length;
  const total = spec.count * spec.samples * steps;
  if (spec.inputs.length !== spec.count * size) throw new GradlensError('BAD_INPUT', `expected ${spec.count} inputs of ${size} values, got ${spec.inputs.length} values`);
  if (options.targets.length !== spec.count) throw new GradlensError('BAD_INPUT', `${options.targets.length} targets for ${spec.count} inputs`);
  options.signal?.throwIfAborted();

  // Within the loop budget too: attribution_accumulate walks a slot's points of the chunk, drawing noise for each.
  const loopSafe = Math.max(1, Math.floor((loopBudget(device) - POINTS_ITERATIONS) / ACCUMULATE_ITERATIONS_PER_POINT));
  const chunkSize = Math.min(options.chunkSize ?? (await defaultChunkSize(model, total, options.memoryBudget ?? DEFAULT_BUDGET)), loopSafe);
  const plan = await model.cachedPlan({ batch: chunkSize, seed: options.score, rules: options.rules ?? 'standard' });
  // Per-sample sums only when a square is taken of a multi-step sum (SmoothGrad² or VarGrad over IG).
  if (spec.absolute && steps > 1) throw new GradlensError('BAD_PARAMS', 'an absolute value per point needs one step per sample');
  const perSample = steps > 1 && spec.combine !== 'mean';
  const slots = spec.count * (perSample ? spec.samples : 1);
  const sumFloats = slots * size * (!perSample && spec.combine !== 'mean' ? 2 : 1);

  const pathData = spec.path === 'random' ? new Float32Array(2) : interleave(spec.path.alphas, spec.path.weights);
  const [baselineData, baselineMode, setCount] =
    'perInput' in spec.baselines ? [spec.baselines.perInput, 0, 1] : [spec.baselines.set, 1, spec.baselines.setCount];
  if (spec.noise && spec.noise.length !== spec.samples * spec.count * size) {
    throw new GradlensError('BAD_INPUT', `given noise must have samples × inputs × size = ${spec.samples * spec.count * size} values, got ${spec.noise.length}`);
  }
  const owned = [
    await upload(device, 'attribution inputs', spec.inputs),
    await upload(device, 'attribution noise', spec.noise ?? new Float32Array(1)),
    await upload(device, 'attribution streams', streamIds(spec.streams, spec.count)),
    await upload(device, 'attribution baselines', baselineData),
    await upload(device, 'attribution stdev', spec.stdev),
    await upload(device, 'attribution path', pathData),
    ...(await allocate(device, [
      { label: 'attribution sums', size: sumFloats * 4 },
      { label: 'attribution result', size: spec.count * size * 4 },
    ])),
  ];
  const [inputs, noise, streams, baselines, stdev, path, sums, result] = owned as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
  try {
    device.queue.writeBuffer(sums, 0, new Float32Array(sumFloats));
    const [makePoints, accumulate, finalize] = await Promise.all(
      ['attribution_points', 'attribution_accumulate', 'attribution_finalize'].map((entry) => gpu.kernels.kernel('attribution', entry, { WORKGROUP_SIZE })),
    );
    const params = (chunkStart: number, chunkCount: number) => ({
      size,
      chunk_start: chunkStart,
      chunk_count: chunkCount,
      samples: spec.samples,
      steps,
      seed_lo: spec.seed >>> 0,
      seed_hi: Math.floor(spec.seed / 2 ** 32) >>> 0,
      baseline_mode: baselineMode,
      set_count: setCount,
      random_alpha: Number(spec.path === 'random'),
      multiply: MULTIPLY[spec.multiply],
      per_sample: Number(perSample),
      combine: COMBINE[spec.combine],
      inputs: spec.count,
      absolute: Number(spec.absolute ?? false),
      given_noise: Number(spec.noise !== undefined),
    });
    const shared = { inputs, baselines, stdev, path, noise, streams };
    let chunks = 0;
    for (let start = 0; start < total; start += chunkSize) {
      options.signal?.throwIfAborted();
      const count = Math.min(chunkSize, total - start);
      writeTargets(device, plan, options.targets, start, count, spec.samples * steps);
      const batch = new CommandBatch(device, `attribution chunk ${chunks}`)
        .dispatch(makePoints!.bind(device, { params: params(start, count), ...shared, points: plan.buffers.input }), gridFor(count * size, WORKGROUP_SIZE), POINTS_ITERATIONS)
        .add(...plan.dispatches)
        .dispatch(
          accumulate!.bind(device, { params: params(start, count), ...shared, gradients: plan.buffers.inputGradient!, sums }),
          gridFor(slots * size, WORKGROUP_SIZE),
          count * ACCUMULATE_ITERATIONS_PER_POINT,
        );
      await batch.submit();
      chunks++;
      if (options.onProgress) {
        await device.queue.onSubmittedWorkDone();
        options.onProgress({ done: start + count, total });
      }
    }
    await new CommandBatch(device, 'attribution finalize')
      .dispatch(finalize!.bind(device, { params: params(0, 0), sums, points: result }), gridFor(spec.count * size, WORKGROUP_SIZE), spec.samples + 1)
      .submit();
    return { attribution: await readFloats(device, result, spec.count * size), points: total, chunks, chunkSize };
  } finally {
    owned.forEach((buffer) => buffer.destroy());
  }
}

/** Stream ids, one per input: the given ones, or the inputs' indices. */
export function streamIds(streams: ArrayLike<number> | undefined, count: number): Uint32Array {
  if (streams === undefined) return Uint32Array.from({ length: count }, (_, i) => i);
  if (streams.length !== count) throw new GradlensError('BAD_INPUT', `${streams.length} noise streams for ${count} inputs`);
  return Uint32Array.from(streams);
}

function interleave(alphas: ArrayLike<number>, weights: ArrayLike<number>): Float32Array {
  if (alphas.length !== weights.length || alphas.length === 0) throw new GradlensError('BAD_PARAMS', 'a path needs as many weights as alphas, at least one');
  return Float32Array.from({ length: 2 * alphas.length }, (_, i) => (i % 2 === 0 ? alphas[i >> 1]! : weights[i >> 1]!));
}

/** Each point's target is its input's: point p belongs to input ⌊p / perInput⌋. */
function writeTargets(device: GPUDevice, plan: Plan, targets: Int32Array, start: number, count: number, perInput: number): void {
  const chunk = new Int32Array(plan.batch);
  for (let j = 0; j < count; j++) chunk[j] = targets[Math.floor((start + j) / perInput)]!;
  device.queue.writeBuffer(plan.buffers.target!, 0, chunk);
}

/**
 * Points per chunk: as many as fit the memory budget (a batch-1 plan's buffers × batch, plus the point and gradient
 * copies), no tensor beyond what the device binds, and no more than the request has.
 */
async function defaultChunkSize(model: Model, total: number, budget: number): Promise<number> {
  const probe = await model.cachedPlan({ batch: 1, seed: 'logit' });
  const perPoint = Math.max(probe.slotBytes, 1);
  const activations = [...probe.shapes].filter(([name]) => !model.graph.constants.has(name));
  const largest = Math.max(...activations.map(([, shape]) => sizeOf(shape) * 4));
  const byBinding = Math.floor(model.gpu.device.limits.maxStorageBufferBindingSize / Math.max(largest, 1));
  return Math.max(1, Math.min(total, Math.floor(budget / perPoint), byBinding));
}
