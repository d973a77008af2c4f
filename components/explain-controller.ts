import {
  createLens,
  GradlensError,
  type AdapterOptions,
  isGradlensError,
  type ExplainOptions,
  type Explanation,
  type Heatmap,
  type HeatmapOptions,
  type Lens,
  type LensModel,
  type ModelSource,
  type TokenOptions,
} from '../src/index.ts';

// No DOM in this file: the widgets' logic, runnable in Node for headless parity.

let sharedLens: Promise<Lens> | undefined;
let sharedOptions: AdapterOptions = {};
const sharedModels = new Map<string, Promise<LensModel>>();

/** The page's one Lens. Creating it opens no device: the GPU is requested on the first predict or explain. */
export function lens(): Promise<Lens> {
  sharedLens ??= createLens(sharedOptions);
  return sharedLens;
}

/**
 * How the page's Lens opens its device (`powerPreference`, `precision: 'f16'`, …): before any widget runs, or after
 * releaseLens(); later it would not apply, so it throws BAD_PARAMS.
 */
export function configureLens(options: AdapterOptions): void {
  if (sharedLens) throw new GradlensError('BAD_PARAMS', 'configureLens: the shared Lens is already open; call releaseLens() first');
  sharedOptions = { ...options };
}

/** Closes the shared Lens and forgets the shared models (tests; a page leaving). The next use opens a new one. */
export async function releaseLens(): Promise<void> {
  const current = sharedLens;
  sharedLens = undefined;
  sharedModels.clear();
  await (await current?.catch(() => undefined))?.close();
}

/** A model by URL is loaded once per page and shared by every widget that names it. */
async function loadShared(source: ModelSource, signal?: AbortSignal): Promise<LensModel> {
  const shared = await lens();
  if (typeof source !== 'string' && !(source instanceof URL)) return shared.load(source);
  const key = String(source);
  let model = sharedModels.get(key);
  if (!model) {
    // Not tied to one widget's signal: another widget may be waiting on the same load.
    model = shared.load(source);
    sharedModels.set(key, model);
    model.catch(() => sharedModels.delete(key));
  }
  return signal ? abortable(model, signal) : model;
}

const queues = new WeakMap<LensModel, Promise<unknown>>();

/** Runs on one model one at a time: widgets sharing a model share its planned buffers. */
function exclusive<T>(model: LensModel, work: () => Promise<T>): Promise<T> {
  const before = queues.get(model) ?? Promise.resolve();
  const next = before.catch(() => undefined).then(work);
  queues.set(model, next);
  return next;
}

/** An attribution as RGBA pixels on the shared device, over `overlay` when given. */
export async function heatmapOf(attribution: Float32Array, shape: readonly number[], options: HeatmapOptions = {}): Promise<Heatmap> {
  try {
    return await (await lens()).heatmap(attribution, shape, options);
  } catch (error) {
    throw asGradlensError(error);
  }
}

export type ExplainStatus = 'idle' | 'loading' | 'ready' | 'running' | 'done' | 'error';

export interface Prediction {
  index: number;
  label: string;
  logit: number;
  probability: number;
}

export interface RunProgress {
  done: number;
  total: number;
}

/** What the controller tells its host after every change of state. */
export interface ControllerHost {
  onStatus?(status: ExplainStatus): void;
  onLoad?(model: LensModel): void;
  onProgress?(progress: RunProgress): void;
  onResult?(result: Explanation): void;
  onError?(error: GradlensError): void;
}

/** A run's options; the token options apply to text models (integer ids in), whose runs are token attributions. */
export type RunOptions = Omit<ExplainOptions, 'signal' | 'onProgress'> & TokenOptions;

/**
 * One widget's model and runs: load a model, predict, explain with progress and cancellation, keep the last result.
 * A new run aborts the one before it; an aborted run is no error (the state returns to what it was).
 */
export class ExplainController {
  status: ExplainStatus = 'idle';
  model: LensModel | undefined;
  result: Explanation | undefined;
  progress: RunProgress | undefined;
  error: GradlensError | undefined;
  private loading: AbortController | undefined;
  private running: AbortController | undefined;

  constructor(private readonly host: ControllerHost = {}) {}

  /** Loads a model (URL, ONNX bytes or a graph); a later load supersedes an earlier one still in flight. */
  async load(source: ModelSource): Promise<LensModel | undefined> {
    this.cancel();
    this.loading?.abort();
    const loading = (this.loading = new AbortController());
    this.model = undefined;
    this.result = undefined;
    this.set('loading');
    try {
      const model = await loadShared(source, loading.signal);
      if (loading.signal.aborted) return undefined;
      this.model = model;
      this.set('ready');
      this.host.onLoad?.(model);
      return model;
    } catch (error) {
      if (loading.signal.aborted) return undefined;
      this.fail(error);
      return undefined;
    }
  }

  /** Uses a model another controller loaded (several methods on one model share its device and plans). */
  use(model: LensModel): void {
    this.cancel();
    this.model = model;
    this.result = undefined;
    this.set('ready');
  }

  /** The k classes of highest probability (softmax of the logits) for one input. */
  async predict(input: Float32Array, k = 3, labels: readonly string[] = []): Promise<Prediction[]> {
    const model = this.need();
    try {
      return topK(await exclusive(model, () => model.predict(input, 1)), k, labels);
    } catch (error) {
      throw this.fail(error);
    }
  }

  /** Explains one input. Resolves undefined when cancelled (by `cancel`, a newer run, or `signal`). */
  async run(input: Float32Array, options: RunOptions, signal?: AbortSignal): Promise<Explanation | undefined> {
    const model = this.need();
    this.cancel();
    const running = (this.running = new AbortController());
    const combined = signal ? AbortSignal.any([signal, running.signal]) : running.signal;
    const before = this.result ? 'done' : 'ready';
    this.progress = { done: 0, total: 1 };
    this.set('running');
    try {
      const result = await exclusive(model, () => {
        combined.throwIfAborted();
        const all = {
          ...options,
          count: 1,
          signal: combined,
          onProgress: (progress: RunProgress) => {
            if (combined.aborted) return;
            this.progress = progress;
            this.host.onProgress?.(progress);
          },
        };
        return model.graph.tokenIds ? model.explainTokens(input, all) : model.explain(input, all);
      });
      combined.throwIfAborted();
      this.result = result;
      this.set('done');
      this.host.onResult?.(result);
      return result;
    } catch (error) {
      if (combined.aborted) {
        if (this.running === running) this.set(before);
        return undefined;
      }
      this.fail(error);
      return undefined;
    } finally {
      if (this.running === running) this.running = undefined;
    }
  }

  /** Stops the run in flight, if any; it ends at its next chunk. */
  cancel(): void {
    this.running?.abort(new DOMException('The run was cancelled', 'AbortError'));
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  private need(): LensModel {
    if (!this.model) throw new GradlensError('BAD_PARAMS', 'no model is loaded: set the model first');
    return this.model;
  }

  private fail(error: unknown): GradlensError {
    this.error = asGradlensError(error);
    this.set('error');
    this.host.onError?.(this.error);
    return this.error;
  }

  private set(status: ExplainStatus): void {
    if (status !== 'error') this.error = undefined;
    this.status = status;
    this.host.onStatus?.(status);
  }
}

/** Softmax probabilities of one row of logits, the k largest first. */
export function topK(logits: Float32Array, k: number, labels: readonly string[] = []): Prediction[] {
  const max = Math.max(...logits);
  const exps = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return Array.from(logits, (logit, index) => ({ index, label: labels[index] ?? String(index), logit, probability: exps[index]! / sum }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, Math.max(1, Math.min(k, logits.length)));
}

/** Any failure as a GradlensError with a code, so widgets and events carry one kind of error. */
export function asGradlensError(error: unknown): GradlensError {
  if (isGradlensError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new GradlensError('INTERNAL', message, { cause: error });
}

/** True when the error means there is no WebGPU here at all (as opposed to a failed run). */
export function isWebGpuMissing(error: GradlensError | undefined): boolean {
  return error?.code === 'NO_WEBGPU' || error?.code === 'NO_ADAPTER' || error?.code === 'DEVICE_REQUEST_FAILED';
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
