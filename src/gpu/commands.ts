import { GradlensError, fromGpuError } from './errors.ts';
import type { BoundKernel } from './kernels.ts';
import { loopBudget } from './limits.ts';

/** One kernel launch, bound once (at plan time) and recordable any number of times. */
export interface Dispatch {
  bound: BoundKernel;
  workgroups: [number, number, number];
  /** Upper bound on the loop iterations one invocation runs, all loops together (src/gpu/limits.ts). */
  iterations: number;
  /**
   * Launches that prepare what this one reads from the weights (a convolution's packed weights), which do not change
   * within a run: a batch records them before this launch the first time it records it, and `CommandBatch.repeat` (a
   * run's later chunks) leaves them out. Their uniform buffers are in this one's `bound.uniforms`, so whoever frees
   * those frees them.
   */
  prologue?: readonly Dispatch[];
}

type Step =
  | { kind: 'dispatch'; bound: BoundKernel; workgroups: [number, number, number] }
  | { kind: 'copy'; source: GPUBuffer; target: GPUBuffer; size: number; sourceOffset: number; targetOffset: number };

type NodeProcess = { env?: Record<string, string | undefined>; on?(event: 'exit', listener: () => void): void };
const nodeProcess = (globalThis as { process?: NodeProcess }).process;

let debugDispatch = readDebugSwitch('dispatch');
let profiling = Promise.resolve();
/** GRADLENS_DEBUG=profile: every step submitted alone and waited for; wall time per kernel, printed at exit. */
const profile = readDebugSwitch('profile') ? new Map<string, { ms: number; runs: number }>() : undefined;

/** The one debug switch: print each dispatch's kernel, overrides and workgroup counts (or GRADLENS_DEBUG=dispatch). */
export function setDebugDispatch(on: boolean): void {
  debugDispatch = on;
}

/**
 * Steps recorded into one command buffer and submitted once. Validation and out-of-memory errors of
 * the whole batch come back from `submit` as one thrown error that names the kernels.
 */
export class CommandBatch {
  private readonly steps: Step[] = [];
  private readonly prologues = new Set<Dispatch>();

  constructor(
    private readonly device: GPUDevice,
    readonly label: string,
  ) {}

  /**
   * Records one launch after checking it against the device's limits: workgroups per dimension, and the loop
   * iterations of one invocation (`iterations`, an upper bound) against the adapter's loop budget.
   */
  dispatch(bound: BoundKernel, workgroups: number | readonly number[], iterations: number): this {
    const [x = 1, y = 1, z = 1] = typeof workgroups === 'number' ? [workgroups] : workgroups;
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (Math.max(x, y, z) > max || Math.min(x, y, z) < 0) {
      throw new GradlensError('DEVICE_LIMIT', `kernel ${bound.kernel.name}: ${x}×${y}×${z} workgroups exceeds this device's ${max} per dimension`);
    }
    const budget = loopBudget(this.device);
    if (!(iterations <= budget)) {
      throw new GradlensError(
        'DEVICE_LIMIT',
        `kernel ${bound.kernel.name}: one invocation would run ${iterations} loop iterations, over this adapter's budget of ${budget} ` +
          '(Mesa llvmpipe/lavapipe stop loops there without an error). Use smaller inputs or layers, or another adapter.',
      );
    }
    this.steps.push({ kind: 'dispatch', bound, workgroups: [x, y, z] });
    return this;
  }

  /** Records prepared dispatches (from the kernel wrappers in src/kernels/), each after its prologue, once a batch. */
  add(...dispatches: readonly Dispatch[]): this {
    for (const dispatch of dispatches) {
      for (const step of dispatch.prologue ?? []) {
        if (this.prologues.has(step)) continue;
        this.prologues.add(step);
        this.add(step);
      }
      this.dispatch(dispatch.bound, dispatch.workgroups, dispatch.iterations);
    }
    return this;
  }

  /** Records dispatches without their prologues: a run's later chunks, after a batch that recorded them (`add`). */
  repeat(...dispatches: readonly Dispatch[]): this {
    for (const { bound, workgroups, iterations } of dispatches) this.dispatch(bound, workgroups, iterations);
    return this;
  }

  copy(source: GPUBuffer, target: GPUBuffer, size = source.size, sourceOffset = 0, targetOffset = 0): this {
    this.steps.push({ kind: 'copy', source, target, size, sourceOffset, targetOffset });
    return this;
  }

  /** Encodes the steps; reusable, so a fixed schedule is recorded once and submitted per chunk. */
  encode(steps: readonly Step[] = this.steps): GPUCommandBuffer {
    const encoder = this.device.createCommandEncoder({ label: this.label });
    let pass: GPUComputePassEncoder | undefined;
    for (const step of steps) {
      if (step.kind === 'copy') {
        pass?.end();
        pass = undefined;
        encoder.copyBufferToBuffer(step.source, step.sourceOffset, step.target, step.targetOffset, step.size);
        continue;
      }
      pass ??= encoder.beginComputePass({ label: this.label });
      const { kernel, bindGroups } = step.bound;
      if (debugDispatch)
        console.error(`[gradlens] dispatch ${kernel.name} ${JSON.stringify(kernel.overrides)} workgroups ${step.workgroups.join('×')}`);
      pass.setPipeline(kernel.pipeline);
      bindGroups.forEach((group, index) => pass!.setBindGroup(index, group));
      pass.dispatchWorkgroups(...step.workgroups);
    }
    pass?.end();
    return encoder.finish();
  }

  async submit(): Promise<void> {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    // Batches submitted back to back are profiled one after another, so that no step's wait covers another's work.
    if (profile) {
      const profiled = profiling.then(() => this.profiled(profile));
      profiling = profiled.catch(() => undefined); // a failed batch does not stop the ones after it
      await profiled;
    } else {
      this.device.queue.submit([this.encode()]);
    }
    const [invalid, outOfMemory] = await Promise.all([this.device.popErrorScope(), this.device.popErrorScope()]);
    const error = invalid ?? outOfMemory;
    if (error) throw fromGpuError(error, `${this.label} (kernels ${this.kernelNames().join(', ')})`);
  }

  /**
   * Each step in a submit of its own, timed to its completion: the one method that works on every adapter (llvmpipe has
   * no timestamp queries). An empty submit and wait costs ~0.03 ms on the software adapters, so the sums are the kernels'.
   */
  private async profiled(table: NonNullable<typeof profile>): Promise<void> {
    for (const step of this.steps) {
      const key = step.kind === 'copy' ? 'copy' : `${step.bound.kernel.name} ${JSON.stringify(step.bound.kernel.overrides)}`;
      const start = performance.now();
      this.device.queue.submit([this.encode([step])]);
      await this.device.queue.onSubmittedWorkDone();
      const entry = table.get(key) ?? { ms: 0, runs: 0 };
      table.set(key, { ms: entry.ms + performance.now() - start, runs: entry.runs + 1 });
    }
  }

  private kernelNames(): string[] {
    return [...new Set(this.steps.flatMap((step) => (step.kind === 'dispatch' ? [step.bound.kernel.name] : [])))];
  }
}

/** Workgroups for one invocation per element, as a 2-D grid when one dimension's 65535 is not enough. */
export function gridFor(count: number, workgroupSize: number, maxPerDimension = 65535): [number, number, number] {
  const groups = Math.ceil(count / workgroupSize);
  if (groups <= maxPerDimension) return [Math.max(groups, 1), 1, 1];
  return [maxPerDimension, Math.ceil(groups / maxPerDimension), 1];
}

function readDebugSwitch(name: 'dispatch' | 'profile'): boolean {
  return (nodeProcess?.env?.GRADLENS_DEBUG ?? '').split(',').includes(name);
}

/** The profile's table, largest total first: ms in all, runs, ms per run. */
export function profileTable(): string {
  if (!profile) return 'profiling is off: set GRADLENS_DEBUG=profile';
  const rows = [...profile].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((sum, [, entry]) => sum + entry.ms, 0);
  const lines = rows.map(
    ([key, { ms, runs }]) => `${ms.toFixed(1).padStart(10)} ms ${String(runs).padStart(6)} × ${(ms / runs).toFixed(3).padStart(9)} ms  ${key}`,
  );
  return [`[gradlens] profile: ${total.toFixed(1)} ms in kernels and copies`, ...lines].join('\n');
}

if (profile) nodeProcess?.on?.('exit', () => console.error(profileTable()));
