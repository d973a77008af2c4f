import { findAdapter, tuneStore } from '#adapter';
import { isSoftwareAdapter, type AdapterOptions, type FoundAdapter } from './adapter.ts';
import { GradlensError } from './errors.ts';
import { KernelRegistry } from './kernels.ts';
import { loopBudgetOf, setLoopBudget } from './limits.ts';
import { adapterKey, Tuning } from './tune.ts';
import { probeSubgroups } from './subgroups.ts';

/** Limits taken at the adapter's maximum instead of WebGPU's defaults: the batch sizes depend on them. */
const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxBindGroups',
] as const;

/** Used when present; each changes how kernels may be built. */
const OPTIONAL_FEATURES = ['shader-f16', 'timestamp-query', 'subgroups'] as const;

export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: string;
  software: boolean;
  featureLevel: 'core' | 'compatibility';
  /** Optional features this device was created with. */
  features: string[];
  /** Whether the adapter offers `shader-f16` (f16 storage and arithmetic), which AdapterOptions.precision 'f16' needs. */
  shaderF16: boolean;
  /** How the kernels read the weights (AdapterOptions.precision): 'f16' from f16 copies, else 'f32'. */
  precision: 'f32' | 'f16';
  /**
   * Whether kernels with a subgroups variant run it: the `subgroups` feature, AdapterOptions.subgroups, and a probe
   * (src/gpu/subgroups.ts) that found each subgroup an aligned block of the workgroup's invocations.
   */
  subgroupKernels: boolean;
  /** The adapter's subgroup sizes [min, max] where it says (WebGPU: powers of two in 4..128). */
  subgroupSizes?: [number, number];
  limits: Record<string, number>;
  /** Loop iterations one kernel invocation may run (src/gpu/limits.ts): 65,535 on Mesa's gallivm, null for none. */
  loopBudget: number | null;
  note?: string;
  /** The autotune cache (src/gpu/tune.ts): where, how many shape classes it holds, and why it was ignored if it was. */
  tuning?: { cache: string; entries: number; autotune: boolean; note?: string };
}

/** Which adapter, in which mode, produced a result: recorded beside every result so a wrong adapter can be traced. */
export interface AdapterIdentity {
  name: string;
  backend: string;
  featureLevel: 'core' | 'compatibility';
  software: boolean;
  loopBudget: number | null;
  /** Present when the weights were stored as f16 (AdapterOptions.precision). */
  precision?: 'f16';
}

export function adapterIdentity(report: AdapterReport): AdapterIdentity {
  const name = report.description || report.device || report.architecture || 'unnamed adapter';
  const identity: AdapterIdentity = {
    name,
    backend: report.backend,
    featureLevel: report.featureLevel,
    software: report.software,
    loopBudget: report.loopBudget,
  };
  return report.precision === 'f16' ? { ...identity, precision: 'f16' } : identity;
}

/** One WebGPU device with its kernels. Replaced as a whole when the device is lost. */
export class GpuContext {
  readonly kernels: KernelRegistry;
  /** Kernel choices measured on this adapter (cached across runs), consulted by the kernel wrappers. */
  readonly tuning: Tuning;
  lostInfo: GPUDeviceLostInfo | undefined;

  private constructor(
    readonly device: GPUDevice,
    readonly adapter: GPUAdapter,
    readonly report: AdapterReport,
    private readonly keepAlive: unknown,
    tuning: Tuning,
  ) {
    const [min, max] = report.subgroupSizes ?? [];
    this.kernels = new KernelRegistry(device, undefined, { subgroups: report.subgroupKernels, subgroupSize: min === max ? min : undefined });
    this.tuning = tuning;
    device.lost.then((info) => {
      this.lostInfo = info;
    });
  }

  static async open(options: AdapterOptions = {}): Promise<GpuContext> {
    if (options.precision !== undefined && options.precision !== 'f32' && options.precision !== 'f16') {
      throw new GradlensError('BAD_PARAMS', `precision must be 'f32' or 'f16', not ${JSON.stringify(options.precision)}`);
    }
    const found = await findAdapter(options);
    const { adapter } = found;
    if (options.precision === 'f16' && !adapter.features.has('shader-f16')) {
      const name = adapter.info.description || adapter.info.device || adapter.info.vendor || 'this adapter';
      throw new GradlensError('DEVICE_LIMIT', `precision 'f16' needs the shader-f16 feature, which ${name} does not offer; use precision 'f32'`);
    }
    const requiredFeatures = OPTIONAL_FEATURES.filter((name) => adapter.features.has(name) && !(name === 'subgroups' && options.subgroups === false));
    const requiredLimits: Record<string, number> = {};
    for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
    let device: GPUDevice;
    try {
      device = await adapter.requestDevice({ label: 'gradlens', requiredFeatures, requiredLimits });
    } catch (cause) {
      throw new GradlensError(
        'DEVICE_REQUEST_FAILED',
        `The adapter refused a device (${String(cause)}). Update the GPU driver or choose another adapter.`,
        { cause },
      );
    }
    const report = describe(found, device, options);
    if (report.precision === 'f16' && report.software) {
      // Measured on lavapipe (docs/performance.md): the conversions cost what the halved reads save on a CPU.
      report.note = [report.note, 'f16 weights on a software adapter are no faster (0.44–1.0× f32 on lavapipe); they are for GPUs']
        .filter(Boolean)
        .join('; ');
    }
    if (report.subgroupKernels) {
      // The subgroup kernels need each subgroup to be an aligned block of the workgroup's invocations: check once.
      const layout = await probeSubgroups(device);
      if (!layout.usable) {
        report.subgroupKernels = false;
        report.note = [
          report.note,
          layout.error
            ? `subgroup kernels off: their probe failed (${layout.error.split('\n')[0]})`
            : `subgroup kernels off: this device's subgroups are not aligned blocks of one size (probe word 0x${layout.word.toString(16)})`,
        ]
          .filter(Boolean)
          .join('; ');
      }
    }
    setLoopBudget(device, report.loopBudget ?? Infinity);
    const store = options.tuneCache === false ? undefined : tuneStore(options);
    const tuning = new Tuning(adapterKey(report), options.autotune ?? false, store);
    if (store) {
      report.tuning = { cache: store.where, entries: tuning.choices.size, autotune: tuning.autotune, ...(tuning.note && { note: tuning.note }) };
    }
    return new GpuContext(device, adapter, report, found.keepAlive, tuning);
  }

  get isLost(): boolean {
    return this.lostInfo !== undefined;
  }

  destroy(): void {
    this.device.destroy();
  }
}

function describe(found: FoundAdapter, device: GPUDevice, options: AdapterOptions): AdapterReport {
  const info = found.adapter.info;
  const limits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) limits[name] = device.limits[name];
  const report: AdapterReport = {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    backend: found.backend,
    software: isSoftwareAdapter(info),
    featureLevel: found.adapter.features.has('core-features-and-limits') ? 'core' : (options.featureLevel ?? 'compatibility'),
    features: [...device.features].filter((name) => (OPTIONAL_FEATURES as readonly string[]).includes(name)),
    shaderF16: found.adapter.features.has('shader-f16'),
    precision: options.precision === 'f16' ? 'f16' : 'f32',
    subgroupKernels: device.features.has('subgroups') && options.subgroups !== false,
    limits,
    loopBudget: null,
  };
  if (device.features.has('subgroups') && info.subgroupMinSize && info.subgroupMaxSize)
    report.subgroupSizes = [info.subgroupMinSize, info.subgroupMaxSize];
  const budget = options.loopBudget ?? loopBudgetOf(info);
  if (Number.isFinite(budget)) report.loopBudget = budget;
  if (found.note) report.note = found.note;
  return report;
}

/**
 * The device a caller should use now: opened on first use, opened afresh after a loss.
 * Work in flight when the device goes is lost with it; the next call starts clean.
 */
export class GpuRuntime {
  private opening: Promise<GpuContext> | undefined;
  private closed = false;

  constructor(private readonly options: AdapterOptions = {}) {}

  async context(): Promise<GpuContext> {
    if (this.closed) throw new GradlensError('DEVICE_LOST', 'This gradlens runtime was closed; create a new one.');
    const current = await this.opening;
    if (current && !current.isLost) return current;
    this.opening = GpuContext.open(this.options);
    try {
      return await this.opening;
    } catch (error) {
      this.opening = undefined;
      throw error;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const current = await this.opening?.catch(() => undefined);
    current?.destroy();
  }
}
