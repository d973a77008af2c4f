// Per-adapter autotune: kernel choices that go opposite ways on different adapters (a convolution's direct kernel
// against its implicit GEMM, a GEMM's tile or its kernel without workgroup memory), measured on the device for a
// shape class and kept in a cache keyed by the adapter's identity and the kernels' version. Plans read the cache
// when one is present and otherwise use the wrappers' heuristics; measuring happens only when asked for
// (`autotune: true`, `gradlens tune`), never on a default first call. Node keeps the cache on disk
// (src/node/tune-store.ts), browsers in localStorage or memory.
import type { AdapterReport } from './device.ts';
import { CommandBatch, type Dispatch } from './commands.ts';
import { shaderSources } from './shader-sources.ts';

/** Bumped when the file's layout or the meaning of a key changes. */
export const TUNE_FORMAT = 1;

/** One measured shape class: the candidate taken and every candidate's best time (ms). */
export interface TuneRecord {
  choice: string;
  ms: Record<string, number>;
}

/** What a store keeps for one adapter. */
export interface TuneFile {
  format: number;
  /** Hash of the WGSL of the tuned kernel families: a kernel edit makes old measurements stale. */
  kernels: string;
  adapter: string;
  choices: Record<string, TuneRecord>;
}

/** Where tuned choices live between runs. `load` never throws: a bad or stale entry is a note and no file. */
export interface TuneStore {
  /** A path or a name, for messages. */
  readonly where: string;
  load(adapter: string, kernels: string): { file?: TuneFile; note?: string };
  save(file: TuneFile): void;
}

/** 32-bit FNV-1a, hex: short and stable names for keys and versions. */
export function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/** The version of the kernels a measurement is valid for. */
export const TUNED_KERNELS = fnv1a([TUNE_FORMAT, shaderSources.gemm ?? '', shaderSources.conv2d ?? ''].join('\n'));

/** The adapter as a cache key: who made it, what it is, through which backend and feature level. */
export function adapterKey(report: Pick<AdapterReport, 'vendor' | 'architecture' | 'device' | 'description' | 'backend' | 'featureLevel'>): string {
  return [report.vendor, report.architecture, report.device, report.description, report.backend, report.featureLevel].join('|');
}

/** A store reading a file's text; shared by the Node file store and the browser's localStorage. */
export function parseTuneFile(text: string | undefined, adapter: string, kernels: string, where: string): { file?: TuneFile; note?: string } {
  if (text === undefined) return {};
  let file: TuneFile;
  try {
    file = JSON.parse(text) as TuneFile;
  } catch {
    return { note: `autotune cache ${where} is not JSON; ignored (run gradlens tune to remake it)` };
  }
  const valid = file && typeof file === 'object' && typeof file.choices === 'object' && file.choices !== null && typeof file.kernels === 'string';
  if (!valid || file.format !== TUNE_FORMAT || file.adapter !== adapter) {
    return { note: `autotune cache ${where} has another format or adapter; ignored (run gradlens tune to remake it)` };
  }
  if (file.kernels !== kernels) return { note: `autotune cache ${where} was measured with other kernels; ignored (run gradlens tune)` };
  const choices = Object.entries(file.choices).filter(([, r]) => r && typeof r.choice === 'string');
  return { file: { ...file, choices: Object.fromEntries(choices) } };
}

/** Browsers: localStorage where the page may use it, else memory (the choices last as long as the page). */
export function browserTuneStore(): TuneStore {
  const memory = new Map<string, string>();
  const storage = (() => {
    try {
      return (globalThis as { localStorage?: Storage }).localStorage;
    } catch {
      return undefined;
    }
  })();
  const slot = (adapter: string) => `gradlens-tune-${fnv1a(adapter)}`;
  return {
    where: storage ? 'localStorage' : 'memory',
    load(adapter, kernels) {
      let text: string | undefined;
      try {
        text = storage?.getItem(slot(adapter)) ?? memory.get(slot(adapter));
      } catch {
        text = memory.get(slot(adapter));
      }
      return parseTuneFile(text, adapter, kernels, this.where);
    },
    save(file) {
      const text = JSON.stringify(file);
      memory.set(slot(file.adapter), text);
      try {
        storage?.setItem(slot(file.adapter), text);
      } catch {
        // quota or privacy mode: memory keeps it
      }
    },
  };
}

/** A candidate kernel path for one shape class: builds its dispatches (bound to scratch outputs for measuring). */
export interface Candidate {
  name: string;
  build(): Promise<Dispatch[]>;
}

/** Best of this many interleaved rounds, fewer when one round is slow. */
const ROUNDS = 5;
const ROUND_BUDGET_MS = 1500;

/** The tuned choices of one device: read at open, measured on request, written back to the store. */
export class Tuning {
  readonly choices: Map<string, TuneRecord>;
  /** What loading said (a corrupt or stale cache), if anything. */
  readonly note: string | undefined;

  constructor(
    readonly adapter: string,
    readonly autotune: boolean,
    private readonly store: TuneStore | undefined,
  ) {
    const loaded = store?.load(adapter, TUNED_KERNELS) ?? {};
    this.choices = new Map(Object.entries(loaded.file?.choices ?? {}));
    this.note = loaded.note;
  }

  get where(): string | undefined {
    return this.store?.where;
  }

  /** The tuned choice of a shape class, if measured and still one of the candidates. */
  choice(key: string, names: readonly string[]): string | undefined {
    const record = this.choices.get(key);
    return record && names.includes(record.choice) ? record.choice : undefined;
  }

  /**
   * The candidate to use for `key`: the cached choice; else, with autotune on, the fastest measured now (and stored),
   * each candidate built by `build` onto a scratch buffer of `output`'s size; else `fallback` (the heuristic's).
   */
  async choose(
    device: GPUDevice,
    key: string,
    names: readonly string[],
    fallback: string,
    output: GPUBuffer,
    build: (name: string, output: GPUBuffer) => Promise<Dispatch[]>,
  ): Promise<string> {
    const cached = this.choice(key, names);
    if (cached !== undefined) return cached;
    if (!this.autotune || names.length < 2) return fallback;
    const scratch = scratchLike(device, output);
    try {
      const record = await measure(
        device,
        key,
        names.map((name) => ({ name, build: () => build(name, scratch) })),
      );
      if (!record) return fallback;
      this.record(key, record);
      return record.choice;
    } finally {
      scratch.destroy();
    }
  }

  /** Sets a choice (measured, or a test's) and writes the cache. */
  record(key: string, record: TuneRecord): void {
    this.choices.set(key, record);
    try {
      this.store?.save({ format: TUNE_FORMAT, kernels: TUNED_KERNELS, adapter: this.adapter, choices: Object.fromEntries(this.choices) });
    } catch (error) {
      console.warn(`gradlens: could not write the autotune cache ${this.store?.where}: ${(error as Error).message}`);
    }
  }
}

async function timeOnce(device: GPUDevice, dispatches: readonly Dispatch[]): Promise<number> {
  const batch = new CommandBatch(device, 'autotune').add(...dispatches);
  const start = performance.now();
  device.queue.submit([batch.encode()]);
  await device.queue.onSubmittedWorkDone();
  return performance.now() - start;
}

/**
 * Each candidate once to warm up (and compile), then rounds taking turns, best of each; a candidate that cannot be
 * built (over the loop budget, too large) or fails validation drops out.
 */
async function measure(device: GPUDevice, key: string, candidates: readonly Candidate[]): Promise<TuneRecord | undefined> {
  const runnable: { name: string; dispatches: Dispatch[] }[] = [];
  for (const candidate of candidates) {
    device.pushErrorScope('validation');
    try {
      const dispatches = await candidate.build();
      await timeOnce(device, dispatches);
      if ((await device.popErrorScope()) === null) runnable.push({ name: candidate.name, dispatches });
    } catch {
      await device.popErrorScope();
    }
  }
  if (runnable.length === 0) return undefined;
  const best = new Map<string, number>(runnable.map((r) => [r.name, Infinity]));
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    for (const r of runnable) best.set(r.name, Math.min(best.get(r.name)!, await timeOnce(device, r.dispatches)));
    if (round >= 1 && performance.now() - start > ROUND_BUDGET_MS) break;
  }
  for (const r of runnable) for (const d of r.dispatches) for (const u of d.bound.uniforms) u.destroy();
  const ms = Object.fromEntries([...best].map(([name, t]) => [name, Math.round(t * 1000) / 1000]));
  const choice = [...best].reduce((a, b) => (b[1] < a[1] ? b : a))[0];
  if (debugTune()) console.error(`autotune ${key}: ${JSON.stringify(ms)} -> ${choice}`);
  return { choice, ms };
}

function debugTune(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return (env?.GRADLENS_DEBUG ?? '').split(',').includes('tune');
}

/** A buffer of `like`'s size for a candidate's output while measuring, so the plan's buffers are never written. */
export function scratchLike(device: GPUDevice, like: GPUBuffer): GPUBuffer {
  return device.createBuffer({
    label: 'autotune scratch',
    size: like.size,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
}

/** Power-of-two bucket of a size, for shape classes: 1, 2, 4, ... (0 stays 0). */
export function bucket(size: number): number {
  return size <= 0 ? 0 : 2 ** Math.ceil(Math.log2(size));
}
