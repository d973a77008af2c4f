/**
 * The one runner of batched work (DESIGN.md, "One idea at the centre"): points made by a generator, run through the
 * model's plans, folded by a reducer, chunk by chunk on the GPU. It owns what every such job shares: the chunk size
 * (memory budget and device limits), each point's target, progress, abort, and the lifetime of every buffer made for
 * the run, per-chunk uniforms included.
 */
import { allocate, upload, type BufferSpec } from '../gpu/buffers.ts';
import { CommandBatch, type Dispatch } from '../gpu/commands.ts';
import { GradlensError } from '../gpu/errors.ts';
import { sizeOf } from '../graph/ir.ts';
import type { Model } from '../graph/model.ts';
import type { Plan, PlanOptions } from '../graph/plan.ts';

/** GPU bytes a run may allocate beyond the model's weights (its plans, cached ones included, and its own) when the caller gives no budget. */
export const DEFAULT_MEMORY_BUDGET = 256 * 2 ** 20;

/** What the caller controls of a run (ExplainOptions' chunkSize, memoryBudget, signal, onProgress). */
export interface RunControl {
  /** Points per chunk (Captum's internal_batch_size); default: as many as the memory budget and the device allow. */
  chunkSize?: number | undefined;
  memoryBudget?: number | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((progress: { done: number; total: number }) => void) | undefined;
}

/** A buffer-to-buffer copy recorded between dispatches. */
export interface Copy {
  source: GPUBuffer;
  target: GPUBuffer;
  size: number;
  sourceOffset?: number;
  targetOffset?: number;
}

export type Step = Dispatch | Copy;

/** Points start … start + count − 1 of the run, and the plans (batch = chunk size) they go through. */
export interface Chunk {
  index: number;
  start: number;
  count: number;
  plans: readonly Plan[];
}

/** A job's per-chunk work once its buffers exist: generator, reducer, and what it reads back at the end. */
export interface Pass<R> {
  /** The generator: steps (or queue writes) that fill the plans' inputs with the chunk's points. */
  points(chunk: Chunk): Promise<Step[]> | Step[];
  /** The reducer: steps after the plans that fold their gradients (or outputs) into the job's sums. */
  reduce(chunk: Chunk): Promise<Step[]> | Step[];
  /** Where the next chunk starts (default: after this one); IDGI repeats a path's last point so every Δf is in one chunk. */
  next?(chunk: Chunk): number;
  /** After the last chunk: any final kernels, and the readback. */
  finish(scope: Scope): Promise<R>;
}

export interface Job<R> {
  label: string;
  /** Points in all. */
  total: number;
  /** The plans every chunk runs, in order (batch filled in by the runner). */
  plans: readonly Omit<PlanOptions, 'batch'>[];
  /** Point p's target, where the plans have an objective: the target of the input it belongs to. */
  targets?: { of: Int32Array; inputOf: (point: number) => number };
  /** The job's own GPU bytes per point of a chunk, beside the plans'. */
  bytesPerPoint?: number;
  /** The job's own GPU bytes whatever the chunk (inputs, sums, results, readback), for the memory budget. */
  bytes?: number;
  /** Bounds on the chunk: at least `least` (IDGI needs 2), at most `most` (a kernel's one-workgroup-per-point limit). */
  least?: number;
  most?: number;
  /** Points that must share a chunk, in runs from point 0 (DeepLift's input and reference): chunks hold whole groups. */
  group?: number;
  /** The point count varies between calls (Split IG): round the chunk up to a power of two, so calls share plans. */
  roundUp?: boolean;
  /** Where this run sits in a method of several: points done before it, and the method's total. */
  progress?: { before: number; total: number };
  /** Once the chunk size is known: the job's buffers, made through `scope`, and its pass. */
  prepare(scope: Scope, chunkSize: number, plans: readonly Plan[]): Promise<Pass<R>>;
}

export interface RunStats {
  /** Points evaluated (a point repeated across chunks counts twice). */
  points: number;
  chunks: number;
  chunkSize: number;
}

/** Buffers made for one run; the runner destroys them all when it ends, however it ends. */
export class Scope {
  private readonly owned: GPUBuffer[] = [];

  constructor(readonly device: GPUDevice) {}

  async upload(label: string, data: ArrayBufferView): Promise<GPUBuffer> {
    return this.own([await upload(this.device, label, data)])[0]!;
  }

  async allocate(specs: readonly BufferSpec[]): Promise<GPUBuffer[]> {
    return this.own(await allocate(this.device, specs));
  }

  /** Records steps into a batch; their uniform buffers become the scope's. */
  record(batch: CommandBatch, steps: readonly Step[]): CommandBatch {
    for (const step of steps) {
      if ('bound' in step) {
        batch.add(step);
        this.own(step.bound.uniforms);
      } else {
        batch.copy(step.source, step.target, step.size, step.sourceOffset ?? 0, step.targetOffset ?? 0);
      }
    }
    return batch;
  }

  destroy(): void {
    this.owned.splice(0).forEach((buffer) => buffer.destroy());
  }

  private own(buffers: GPUBuffer[]): GPUBuffer[] {
    this.owned.push(...buffers);
    return buffers;
  }
}

/**
 * Runs a job in chunks: generator, plans and reducer in one command buffer per chunk, submitted back to back (queue
 * writes between submits keep their order); one readback at the end.
 */
export async function runJob<R>(model: Model, job: Job<R>, control: RunControl): Promise<{ result: R } & RunStats> {
  const { device } = model.gpu;
  control.signal?.throwIfAborted();
  const budget = control.memoryBudget ?? DEFAULT_MEMORY_BUDGET;
  const { chunkSize, perPoint } = await chunkSizeFor(model, job, control, budget);
  // The chunk's plans: those cached are held first; room is made for the rest by freeing other cached plans.
  const plans: Plan[] = [];
  const scope = new Scope(device);
  // Each chunk is submitted as soon as it is recorded and its error check (CommandBatch.submit) awaited only at the
  // end: the host never waits for the GPU between chunks. With progress or abort asked for, at most two chunks are
  // queued: once chunk k is submitted the host waits for chunk k − 1 (the GPU has chunk k to run meanwhile), reports
  // its progress, and an abort stops the chunks not yet queued.
  const checks: Promise<void>[] = [];
  const inFlight: { done: Promise<unknown>; points: number }[] = [];
  const settle = async (keep: number) => {
    while (inFlight.length > keep) {
      const { done, points: upTo } = inFlight.shift()!;
      await done;
      control.onProgress?.({ done: (job.progress?.before ?? 0) + upTo, total: job.progress?.total ?? job.total });
    }
  };
  const watched = control.onProgress !== undefined || control.signal !== undefined;
  try {
    const options = job.plans.map((o) => ({ ...o, batch: chunkSize }));
    const missing = options.map((o) => !model.hasPlan(o));
    for (const [i, o] of options.entries()) if (!missing[i]) plans[i] = await held(model, o);
    model.fitPlans(budget - jobBytes(job, chunkSize) - perPoint.reduce((sum, bytes, i) => sum + (missing[i] ? bytes * chunkSize : 0), 0));
    for (const [i, o] of options.entries()) if (missing[i]) plans[i] = await held(model, o);
    const pass = await job.prepare(scope, chunkSize, plans);
    let [start, chunks, points] = [0, 0, 0];
    while (start < job.total) {
      control.signal?.throwIfAborted();
      const chunk = { index: chunks, start, count: Math.min(chunkSize, job.total - start), plans };
      if (job.targets) writeTargets(device, plans, job.targets, chunk);
      const batch = scope.record(new CommandBatch(device, `${job.label} chunk ${chunks}`), await pass.points(chunk));
      // Prologues (packed weights) once a run, in its first chunk: the weights do not change within it.
      plans.forEach((plan) => (chunks === 0 ? batch.add(...plan.dispatches) : batch.repeat(...plan.dispatches)));
      checks.push(scope.record(batch, await pass.reduce(chunk)).submit());
      chunks++;
      points += chunk.count;
      const done = start + chunk.count;
      start = pass.next?.(chunk) ?? done;
      if (watched) {
        inFlight.push({ done: device.queue.onSubmittedWorkDone(), points: done });
        await settle(1);
      }
    }
    await settle(0);
    await Promise.all(checks);
    return { result: await pass.finish(scope), points, chunks, chunkSize };
  } finally {
    // A run that ends early lets its submitted chunks' checks settle (no unhandled rejection) before freeing buffers.
    await Promise.allSettled(checks);
    scope.destroy();
    plans.forEach((plan) => model.release(plan));
  }
}

/** A cached plan, held (Model.hold) until the run releases it. */
async function held(model: Model, options: PlanOptions): Promise<Plan> {
  const plan = await model.cachedPlan(options);
  model.hold(plan);
  return plan;
}

/** The job's own GPU bytes at a chunk size, beside its plans'. */
function jobBytes(job: Job<unknown>, chunkSize: number): number {
  return (job.bytes ?? 0) + (job.bytesPerPoint ?? 0) * chunkSize;
}

/** Each point's target is its input's, in every plan that has an objective (rows past the chunk keep theirs). */
function writeTargets(device: GPUDevice, plans: readonly Plan[], targets: NonNullable<Job<unknown>['targets']>, chunk: Chunk): void {
  const data = new Int32Array(plans[0]!.batch);
  for (let j = 0; j < chunk.count; j++) data[j] = targets.of[targets.inputOf(chunk.start + j)]!;
  for (const plan of plans) if (plan.buffers.target) device.queue.writeBuffer(plan.buffers.target, 0, data);
}

/**
 * On a software adapter (llvmpipe, SwiftShader: src/gpu/adapter.ts), a chunk's largest tensor stays within this many
 * bytes. Measured on both (docs/performance.md, "Chunk size on software adapters"): smallCnn at 224×224×3,
 * IG-64, whose largest tensor is 1.58 MB a point, took the least CPU time in chunks of 4–16 points (≤ 25 MB); chunks of
 * 32 and 64 (50–100 MB) took 3–10 % more CPU time, and 64 also 1.1–2× the wall time (fewer of the driver's threads
 * busy). On a CPU, tens of MB a tensor are streamed from memory by every kernel. Small inputs are untouched (the digit
 * CNN's largest tensor is 25 kB a point, so 1,300 points fit). Real GPUs keep the memory budget's chunk.
 */
export const SOFTWARE_WORKING_SET = 32 * 2 ** 20;

/**
 * The chunk size that covers `total` points in as few chunks as `cap` allows, as evenly as whole groups allow: every
 * chunk runs its plan at the full batch, so 64 points in chunks of 28 would compute 84 (the last chunk 20 padding points)
 * where 3 chunks of 22 compute 66.
 */
export function balanced(total: number, cap: number, group = 1, least = 1): number {
  if (total <= cap) return cap;
  const chunks = Math.ceil(total / cap);
  const even = Math.ceil(Math.ceil(total / chunks) / group) * group;
  return Math.max(least, Math.min(cap, even));
}

/** Per model, by a probe plan's options: its bytes per point and its largest tensor per point. */
const probed = new WeakMap<Model, Map<string, { perPoint: number; largest: number }>>();

/**
 * Points per chunk: the caller's `chunkSize`, or as many as fit the memory budget with no tensor beyond what the
 * device binds (on a software adapter, none beyond SOFTWARE_WORKING_SET), within the job's bounds and its total, then
 * evened out over the chunks that takes (`balanced`). The budget counts everything the run allocates on the GPU but
 * the model's weights: each plan at batch 1 (Plan.bytes, per point), the job's own bytes, and the cached plans held by
 * other runs; cached plans not in use are freed to make room (Model.fitPlans). Also each plan's bytes per point (the
 * estimate the runner makes room for): the probe's, or, with a chunk size given, the largest of the cached plans'.
 */
async function chunkSizeFor(
  model: Model,
  job: Job<unknown>,
  control: RunControl,
  budget: number,
): Promise<{ chunkSize: number; perPoint: number[] }> {
  const group = job.group ?? 1;
  const least = job.least ?? 1;
  const wanted = job.roundUp ? 2 ** Math.ceil(Math.log2(Math.max(job.total, 1))) : job.total;
  const most = Math.max(least, group, Math.min(wanted, job.most ?? Infinity));
  // Whole groups: rounded down, but never below one group (a chunk of 1 asked of DeepLift is one pair).
  const whole = (points: number) => Math.max(group, points - (points % group));
  if (control.chunkSize !== undefined) {
    if (!Number.isInteger(control.chunkSize) || control.chunkSize < least) {
      throw new GradlensError('BAD_PARAMS', `${job.label} needs chunkSize to be an integer ≥ ${least}, got ${control.chunkSize}`);
    }
    return { chunkSize: whole(Math.min(control.chunkSize, most)), perPoint: job.plans.map(() => model.bytesPerSample()) };
  }
  // Plans of one group of points (one point unless grouped) give the bytes per point, remembered per model and plan
  // options: a later call sizes its chunks without the probe, which may have been freed to make room.
  const probes: Plan[] = [];
  try {
    const perPoint: number[] = [];
    let largest = sizeOf(model.graph.inputShape) * 4;
    let measured = probed.get(model);
    if (!measured) probed.set(model, (measured = new Map()));
    for (const options of job.plans) {
      const key = { ...options, batch: group };
      const name = JSON.stringify(key);
      let probe = measured.get(name);
      if (!probe) {
        if (!model.hasPlan(key)) model.fitPlans(budget - jobBytes(job, group) - model.bytesPerSample() * group);
        const plan = await held(model, key);
        probes.push(plan);
        let tensor = 0;
        for (const [name, shape] of plan.shapes) if (!model.graph.constants.has(name)) tensor = Math.max(tensor, (sizeOf(shape) * 4) / group);
        probe = { perPoint: plan.bytes / group, largest: tensor };
        measured.set(name, probe);
      }
      perPoint.push(probe.perPoint);
      largest = Math.max(largest, probe.largest);
    }
    // Plans other runs hold stay; the probes go where the chunk's plans need their room.
    const others = model.planBytes(true) - probes.reduce((sum, probe) => sum + probe.bytes, 0);
    const byBinding = Math.floor(model.gpu.device.limits.maxStorageBufferBindingSize / largest);
    const perChunkPoint = perPoint.reduce((a, b) => a + b, 0) + (job.bytesPerPoint ?? 0);
    const byBudget = Math.floor((budget - (job.bytes ?? 0) - others) / Math.max(perChunkPoint, 1));
    const byWorkingSet = model.gpu.report.software ? Math.floor(SOFTWARE_WORKING_SET / largest) : Infinity;
    const cap = whole(Math.max(least, Math.min(most, byBudget, byBinding, byWorkingSet)));
    return { chunkSize: job.roundUp ? cap : balanced(job.total, cap, group, least), perPoint };
  } finally {
    probes.forEach((probe) => model.release(probe));
  }
}
