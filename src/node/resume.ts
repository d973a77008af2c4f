import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { UsageError } from './common-options.ts';
import type { ExplainRun } from './explain-options.ts';
import { insideFolder, readResults, type ResultRecord } from './results.ts';

/**
 * Everything besides the model, method and seed that shapes a result: the method's options, the preprocessing and
 * the heat map, with keys sorted and arrays (baselines) as their hash, so equal settings compare equal as JSON.
 */
export function runSettings(run: ExplainRun): Record<string, unknown> {
  const { method: _method, seed: _seed, ...options } = run.method;
  const tokens = Object.keys(run.tokens).length ? { tokens: run.tokens } : {}; // only text runs carry the key
  return canonical({ options, preprocess: run.preprocess, heatmap: run.heatmap, ...tokens }) as Record<string, unknown>;
}

function canonical(value: unknown): unknown {
  if (ArrayBuffer.isView(value))
    return `sha256:${createHash('sha256')
      .update(value as Uint8Array)
      .digest('hex')
      .slice(0, 16)}`;
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => [k, canonical(v)]),
    );
  }
  return value;
}

export interface Resume {
  /** Inputs done by the same run whose files are all still there. */
  done: Set<string>;
  /** The seed of the run resumed, when this one gives none. */
  seed?: number;
}

/**
 * What `--resume` may skip: results of this very run (model, method, seed and settings), files present. Results of
 * another run in the folder are a usage error: resuming would mix two runs' attributions under one name.
 */
export async function resumeFrom(run: ExplainRun, modelSha256: string): Promise<Resume> {
  const ok = [...(await readResults(run.out)).values()].filter((record) => record.status === 'ok');
  if (ok.length === 0) return { done: new Set() };
  const seed = run.method.seed ?? ok[0]!.seed;
  const expected = { 'model sha256': modelSha256, method: run.method.method, seed, settings: JSON.stringify(runSettings(run)) };
  for (const record of ok) {
    const found = { 'model sha256': record.model?.sha256, method: record.method, seed: record.seed, settings: JSON.stringify(record.settings) };
    const differ = (Object.keys(expected) as (keyof typeof expected)[]).filter((key) => expected[key] !== found[key]);
    if (differ.length) {
      throw new UsageError(
        `--resume: ${run.out} holds results of another run (${record.input}: ` +
          `${differ.map((key) => `${key} ${found[key] ?? 'not recorded'}, this run ${expected[key]}`).join('; ')}). ` +
          'Choose another --out, or run without --resume to explain every input again.',
      );
    }
  }
  // Every file the record names is still there, and one for each format asked (a tabular input's picture is an .svg).
  const whole = (record: ResultRecord) => {
    const files = record.files ?? {};
    const present = (file: string) => {
      const path = insideFolder(run.out, file);
      return path !== undefined && existsSync(path);
    };
    return (
      Object.values(files).every(present) &&
      [...run.formats].every((format) => (files[format] ?? (format === 'png' ? files.svg : undefined)) !== undefined)
    );
  };
  return { done: new Set(ok.filter(whole).map((record) => record.input)), ...(seed !== undefined ? { seed } : {}) };
}
