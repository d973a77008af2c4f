import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { adapterIdentity } from '../gpu/device.ts';
import { isGradlensError } from '../gpu/errors.ts';
import type { Explanation } from '../attribution/explain.ts';
import type { OutputTarget } from '../attribution/types.ts';
import type { Graph } from '../graph/ir.ts';
import { loadOnnx } from '../onnx/load.ts';
import { createLens, type Lens, type LensModel } from '../lens.ts';
import { EXIT } from './exit-codes.ts';
import { UsageError } from './common-options.ts';
import { checkAgainstModel } from './explain-checks.ts';
import { preprocessingFor, type ExplainRun } from './explain-options.ts';
import { writeOutputs } from './explain-outputs.ts';
import { listInputs, loadInput, type InputRef, type LoadedInput } from './inputs.ts';
import { fileSystemReason, isFileSystemError, lockFolder, makeFolder } from './out-folder.ts';
import { Progress } from './progress.ts';
import { appendResults, RESULTS_FILE, type ResultRecord } from './results.ts';
import { resumeFrom, runSettings } from './resume.ts';
import { inShard } from './shard.ts';

interface Item {
  ref: InputRef;
  loaded?: LoadedInput;
  error?: unknown;
  loadMs: number;
}

export interface ExplainSummary {
  inputs: number;
  done: number;
  failed: number;
  skipped: number;
  seconds: number;
  inputsPerSecond: number;
  pointsPerSecond: number;
  adapter: string;
  out: string;
  interrupted: boolean;
}

const errorOf = (error: unknown) =>
  isGradlensError(error)
    ? { code: error.code, message: error.message }
    : { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };

const deviceGone = (error: unknown) =>
  isGradlensError(error, 'DEVICE_LOST') ||
  isGradlensError(error, 'NO_ADAPTER') ||
  isGradlensError(error, 'NO_WEBGPU') ||
  isGradlensError(error, 'DEVICE_REQUEST_FAILED');

/** `gradlens explain`: every input of this shard through one method, in batches; returns the exit code. */
/** `shared`: a lens to use and keep open (the demo runs several methods on one device, compiling kernels once). */
export async function runExplain(
  run: ExplainRun,
  log: (line: string) => void = console.log,
  shared?: Lens,
): Promise<{ code: number; summary?: ExplainSummary }> {
  const modelBytes = await readFile(run.model).catch((error: Error) => {
    throw new UsageError(`cannot read the model ${run.model}: ${error.message}`);
  });
  const sha256 = createHash('sha256').update(modelBytes).digest('hex');
  const refs = (
    await listInputs(run.inputs).catch((error: Error) => {
      throw new UsageError(error.message);
    })
  ).filter((ref) => inShard(ref.id, run.shard));
  await makeFolder(run.out);
  const release = await lockFolder(run.out);
  try {
    return await explainInto(run, refs, modelBytes, sha256, log, shared);
  } finally {
    await release();
  }
}

async function explainInto(run: ExplainRun, refs: InputRef[], modelBytes: Uint8Array, sha256: string, log: (line: string) => void, shared?: Lens) {
  const resume = run.resume ? await resumeFrom(run, sha256) : { done: new Set<string>(), seed: undefined };
  const todo = refs.filter((ref) => !resume.done.has(ref.id));

  const lens = shared ?? (await createLens(run.adapter));
  const close = () => (shared ? Promise.resolve() : lens.close());
  let model: LensModel;
  let adapterName: string;
  try {
    model = await lens.load(graphAt(new Uint8Array(modelBytes), run));
    checkAgainstModel(run, model.graph);
    const report = await lens.adapter();
    const identity = adapterIdentity(report);
    adapterName = `${identity.name} (${identity.backend}, ${identity.featureLevel}${identity.software ? ', software' : ''}${identity.precision ? ', f16 weights' : ''})`;
  } catch (error) {
    await close();
    if (isGradlensError(error) && ['BAD_MODEL', 'CORRUPT_MODEL', 'UNSUPPORTED_OP', 'MISSING_INITIALIZER', 'EXTERNAL_DATA'].includes(error.code)) {
      throw new UsageError(`${run.model}: ${error.message}`);
    }
    throw error;
  }
  const seed = run.method.seed ?? resume.seed ?? Math.floor(Math.random() * 2 ** 32);
  const batcher = new Batcher(run, lens, model, { path: run.model, sha256 }, seed);
  let interrupted = false;
  try {
    const result = await batcher.all(todo, refs.length - todo.length, adapterName, log);
    interrupted = result.code === EXIT.interrupted;
    return result;
  } finally {
    // Interrupted, the abandoned batch may still be compiling kernels: the caller exits without waiting for it.
    const cleanup = model.destroy().then(close);
    if (interrupted) cleanup.catch(() => undefined);
    else await cleanup;
  }
}

/**
 * The model at --size where the file leaves those dimensions free (a fully convolutional net, a text-line recognizer of
 * any width), so the image is not squeezed to the size the loader probed; elsewhere the model as loaded.
 */
function graphAt(bytes: Uint8Array, run: ExplainRun): Graph {
  const graph = loadOnnx(bytes, { name: run.model });
  const size = run.preprocess.size;
  if (!size || !graph.specialise || graph.inputShape.length !== 3) return graph;
  const chw = (run.preprocess.layout ?? 'chw') === 'chw';
  const shape = chw ? [graph.inputShape[0]!, ...size] : [...size, graph.inputShape[2]!];
  const changed = shape.flatMap((d, axis) => (d !== graph.inputShape[axis] ? [axis] : []));
  return changed.length > 0 && changed.every((axis) => graph.freeAxes?.includes(axis)) ? graph.specialise(shape) : graph;
}

/** What the result records of an output target: the target itself, a mask by its size and total weight. */
function recordedTarget(target: OutputTarget): ResultRecord['outputTarget'] {
  if (!('mask' in target)) return target;
  return { mask: { weights: target.mask.length, total: target.mask.reduce((sum, w) => sum + w, 0) } };
}

const describeTarget = (target: OutputTarget | undefined, index: number) =>
  !target
    ? `class ${index}`
    : 'step' in target
      ? `step ${target.step}, class ${String(target.class)}`
      : 'region' in target
        ? `region ${target.region.join(',')}${target.channel ? ` of channel ${target.channel}` : ''}`
        : 'a mask';

class Batcher {
  private readonly controller = new AbortController();
  private failed = 0;
  private explained = 0;
  private points = 0;
  private readonly preprocessing;
  private readonly settings;
  /** Whether a batch has begun writing its files (until its records are appended): an interrupt then waits for it. */
  private writing = false;

  constructor(
    private readonly run: ExplainRun,
    private readonly lens: Lens,
    private readonly model: LensModel,
    private readonly modelId: { path: string; sha256: string },
    private readonly seed: number,
  ) {
    this.preprocessing = preprocessingFor(model.inputShape, run.preprocess);
    this.settings = runSettings(run);
    this.anyLength = model.graph.tokenIds !== undefined && model.inputShape.length === 1 && (model.graph.freeAxes?.length ?? 0) > 0;
  }

  /** A text model that takes sequences of any length: each input keeps its own, and inputs of one length share a call. */
  private readonly anyLength: boolean;

  async all(todo: InputRef[], skipped: number, adapter: string, log: (line: string) => void) {
    const started = performance.now();
    const progress = new Progress(todo.length);
    let interrupts = 0;
    // First Ctrl-C: abandon the batch in flight (its files are never started) and stop; a second one ends at once.
    const onSigint = () => {
      if (++interrupts > 1) process.exit(EXIT.interrupted);
      this.controller.abort();
    };
    const interrupted = new Promise<'interrupted'>((resolve) =>
      this.controller.signal.addEventListener('abort', () => resolve('interrupted'), { once: true }),
    );
    process.on('SIGINT', onSigint);
    let lost = false;
    try {
      const batches = Array.from({ length: Math.ceil(todo.length / this.run.batch) }, (_, b) =>
        todo.slice(b * this.run.batch, (b + 1) * this.run.batch),
      );
      // Decoding of the next batch starts before this one's GPU work is awaited, so the two overlap.
      let next = batches.length ? this.load(batches[0]!) : undefined;
      for (let b = 0; b < batches.length && next && !this.controller.signal.aborted; b++) {
        const items = await next;
        next = b + 1 < batches.length ? this.load(batches[b + 1]!) : undefined;
        try {
          // Not awaited past an interrupt: the first batch may spend many seconds compiling kernels before it can stop.
          const work = this.batch(items);
          if ((await Promise.race([work, interrupted])) === 'interrupted') {
            if (this.writing) await work;
            else work.catch(() => undefined);
            break;
          }
        } catch (error) {
          if (this.controller.signal.aborted && !(error instanceof UsageError)) break;
          if (deviceGone(error)) {
            lost = true;
            log(`the GPU device was lost: ${(error as Error).message}`);
            break;
          }
          throw error;
        }
        progress.update(this.explained + this.failed, this.failed);
      }
    } finally {
      process.off('SIGINT', onSigint);
      progress.finish();
    }
    const seconds = (performance.now() - started) / 1000;
    const summary: ExplainSummary = {
      inputs: todo.length + skipped,
      done: this.explained,
      failed: this.failed,
      skipped,
      seconds,
      inputsPerSecond: (this.explained + this.failed) / seconds,
      pointsPerSecond: this.points / seconds,
      adapter,
      out: this.run.out,
      interrupted: this.controller.signal.aborted,
    };
    const code = lost ? EXIT.noGpu : summary.interrupted ? EXIT.interrupted : this.failed > 0 ? EXIT.someFailed : EXIT.ok;
    return { code, summary };
  }

  private load(refs: InputRef[]): Promise<Item[]> {
    return Promise.all(
      refs.map(async (ref) => {
        const started = performance.now();
        try {
          const loaded = await loadInput(ref, this.model.inputShape, this.preprocessing, this.anyLength);
          return { ref, loaded, loadMs: performance.now() - started };
        } catch (error) {
          return { ref, error, loadMs: performance.now() - started };
        }
      }),
    );
  }

  /** One explain() call for the batch's good inputs; if the batch as a whole is refused (a NaN input), each alone. */
  private async batch(items: Item[]): Promise<void> {
    const good = items.filter((item) => item.loaded);
    const failure = (item: Item, error: unknown): ResultRecord => ({ input: item.ref.id, status: 'error', error: errorOf(error) });
    const records = items.filter((item) => !item.loaded).map((item) => failure(item, item.error));
    // An error of the inputs or options is recorded; an abort, a lost device or a bug stops the run.
    const recordable = (error: unknown) => !this.controller.signal.aborted && !deviceGone(error) && isGradlensError(error);
    this.writing = false;
    if (good.length) {
      try {
        records.push(...(await this.explainAndWrite(good)));
      } catch (error) {
        if (!recordable(error)) throw error;
        if (good.length === 1) records.push(failure(good[0]!, error));
        else {
          for (const item of good) {
            try {
              records.push(...(await this.explainAndWrite([item])));
            } catch (single) {
              // Interrupted: the inputs written so far are recorded below, the rest left for --resume.
              if (this.controller.signal.aborted) break;
              if (!recordable(single)) throw single;
              records.push(failure(item, single));
            }
          }
        }
      }
    }
    this.failed += records.filter((r) => r.status === 'error').length;
    try {
      await appendResults(this.run.out, records);
    } catch (error) {
      throw new UsageError(
        `cannot write ${join(this.run.out, RESULTS_FILE)}: ${fileSystemReason(error)}; the run stops (files of this batch may be there, unrecorded)`,
      );
    } finally {
      this.writing = false;
    }
  }

  private async explainAndWrite(items: Item[]): Promise<ResultRecord[]> {
    const lengths = [...new Set(items.map((item) => item.loaded!.data.length))];
    if (lengths.length > 1) {
      const records: ResultRecord[] = [];
      for (const length of lengths) records.push(...(await this.explainAndWrite(items.filter((item) => item.loaded!.data.length === length))));
      return records;
    }
    const size = items[0]!.loaded!.data.length;
    const inputs = new Float32Array(items.length * size);
    items.forEach((item, i) => inputs.set(item.loaded!.data, i * size));
    // A stream id from each input's name: its noise is the same whatever batch, shard or resumed run it falls in.
    const streams = items.map((item) => streamId(item.ref.id));
    const options = { ...this.run.method, seed: this.seed, streams, signal: this.controller.signal };
    const text = this.model.graph.tokenIds !== undefined;
    const tokenResult = text ? await this.model.explainTokens(inputs, { ...options, ...this.run.tokens, count: items.length }) : undefined;
    const result: Explanation = tokenResult ?? (await this.model.explain(inputs, options));
    const vocabulary = this.model.vocabulary;
    // Interrupted while the GPU worked: the run has moved on without this batch, so nothing of it is written.
    this.controller.signal.throwIfAborted();
    this.writing = true;
    const context = await this.lens.runtime.context();
    const explainMs = result.timing.ms;
    const records: ResultRecord[] = [];
    // A layer method's attribution has the layer's shape: its .npy keeps it, and a [C, h, w] map is drawn over the image.
    const shape = result.shape.slice(1);
    const perInput = shape.reduce((a, b) => a * b, 1);
    const layerShaped = perInput !== size || shape.join() !== this.model.inputShape.join();
    // Rendering and writing are short; once the GPU work is done the batch is finished, not abandoned, even on Ctrl-C.
    for (const [i, item] of items.entries()) {
      const started = performance.now();
      const record: ResultRecord = {
        input: item.ref.id,
        status: 'ok',
        model: this.modelId,
        method: result.method,
        options: result.options,
        seed: result.seed,
        settings: this.settings,
        target: result.target[i]!,
        ...(result.outputTarget ? { outputTarget: recordedTarget(result.outputTarget[i]!) } : {}),
        score: result.score[i]!,
        ...(result.delta ? { delta: result.delta[i]! } : {}),
        batch: { size: items.length, position: i },
        adapter: adapterIdentity(context.report),
      };
      // A token input's files hold one value per token: the attribution at the embedding, reduced (results.jsonl has both).
      const ids = item.loaded!.data;
      const tokens = tokenResult?.tokens.subarray(i * size, (i + 1) * size);
      if (tokenResult && tokens) {
        const text = item.loaded!.tokens ?? Array.from(ids, (id) => vocabulary[id] ?? `#${id}`);
        record.tokens = { text, values: Array.from(tokens), layer: tokenResult.layer, reduce: tokenResult.reduce };
      }
      const job = {
        outDir: this.run.out,
        id: item.ref.id,
        attribution: tokens ?? result.attribution.subarray(i * perInput, (i + 1) * perInput),
        shape: tokens ? [size] : shape,
        formats: this.run.formats,
        heatmap: this.run.heatmap,
        layout: layerShaped ? ('chw' as const) : (this.preprocessing.layout ?? 'chw'),
        title: `${result.method} for ${describeTarget(result.outputTarget?.[i], record.target!)}${layerShaped && !tokens ? ` at ${String(result.options.layer)} [${shape.join('×')}]` : ''}`,
        ...(item.loaded!.image && (!layerShaped || shape.length === 3) ? { image: item.loaded!.image } : {}),
        ...(item.loaded!.features && !layerShaped ? { features: item.loaded!.features } : {}),
        ...(record.tokens ? { features: record.tokens.text } : {}),
      };
      const timing = () => ({
        loadMs: round(item.loadMs),
        explainMs: round(explainMs),
        compileMs: round(result.timing.compileMs ?? 0),
        writeMs: round(performance.now() - started),
        points: result.timing.points,
      });
      try {
        record.files = await writeOutputs(context, job, () => ({ ...record, timing: timing() }));
      } catch (error) {
        // A file that cannot be written costs its input, not the run: the next input may well write (a folder in the way).
        if (!isFileSystemError(error)) throw error;
        records.push({
          input: item.ref.id,
          status: 'error',
          error: { code: 'WRITE_FAILED', message: `${error.path ?? this.run.out}: ${fileSystemReason(error)}` },
        });
        continue;
      }
      record.timing = timing();
      records.push(record);
      this.explained++;
    }
    this.points += result.timing.points;
    return records;
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;

export function formatSummary(s: ExplainSummary): string {
  const lines = [
    `${s.done} explained, ${s.failed} failed, ${s.skipped} skipped (already done) of ${s.inputs} inputs in ${s.seconds.toFixed(1)} s` +
      `${s.interrupted ? ' (interrupted: finished batches are kept)' : ''}`,
    `${s.inputsPerSecond.toFixed(2)} inputs/s, ${Math.round(s.pointsPerSecond).toLocaleString('en-US')} points/s on ${s.adapter}`,
    `results: ${s.out}/results.jsonl`,
  ];
  return lines.join('\n');
}

/** FNV-1a, 32 bits: a stable noise stream id from an input's name. */
function streamId(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}
