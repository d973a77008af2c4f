import { appendFile, readFile, realpath, rename, unlink, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { RegionTarget, StepTarget } from '../attribution/types.ts';
import type { AdapterIdentity } from '../gpu/device.ts';

export const RESULTS_FILE = 'results.jsonl';

/** One line of results.jsonl: what was explained, how, and what came out (or the error). */
export interface ResultRecord {
  input: string;
  status: 'ok' | 'error';
  model?: { path: string; sha256: string };
  method?: string;
  options?: Record<string, unknown>;
  seed?: number;
  /** The rest of what shapes the result (method options, preprocessing, heat map): --resume skips only equal ones. */
  settings?: Record<string, unknown>;
  target?: number;
  /** Where the target was inside a sequence or dense output: the step and class, the region, or the mask's size. */
  outputTarget?: StepTarget | RegionTarget | { mask: { weights: number; total: number } };
  score?: number;
  delta?: number;
  /**
   * The input's place in its GPU batch, for the record only: every random draw is keyed by the input's stream id (a hash
   * of its name), so the seed alone reproduces its map, whatever batch it shared.
   */
  batch?: { size: number; position: number };
  /** The adapter and mode that computed it. */
  adapter?: AdapterIdentity;
  files?: Record<string, string>;
  /** A token input (text model): its tokens and each one's attribution, reduced over the embedding at `layer`. */
  tokens?: { text: string[]; values: number[]; layer: string; reduce: string };
  /** explainMs includes compileMs: wall time compiling shader pipelines during this batch's call (the first batch's, mostly). */
  timing?: { loadMs: number; explainMs: number; compileMs: number; writeMs: number; points: number };
  error?: { code: string; message: string };
}

/** Writes to a temporary name in the same folder, then renames: a reader (or a Ctrl-C) never sees half a file. */
export async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, data);
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

/** A file named in results.jsonl as a path inside `folder`, or undefined for one that leaves it (`../x`, `/etc/x`). */
export function insideFolder(folder: string, file: unknown): string | undefined {
  if (typeof file !== 'string' || file === '' || isAbsolute(file) || file.includes('\0')) return undefined;
  const path = resolve(folder, file);
  const rel = relative(resolve(folder), path);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? undefined : path;
}

/** Appends whole lines in one write each, after the files they name are in place. */
export async function appendResults(outDir: string, records: readonly ResultRecord[]): Promise<void> {
  if (records.length) await appendFile(join(outDir, RESULTS_FILE), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

/** Every record in results.jsonl, the last one per input winning; a torn last line (a killed writer) is ignored. */
export async function readResults(outDir: string): Promise<Map<string, ResultRecord>> {
  const text = await readFile(join(outDir, RESULTS_FILE), 'utf8').catch(() => '');
  const records = new Map<string, ResultRecord>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const record = JSON.parse(line) as ResultRecord;
      // A line of another shape (edited by hand, another tool's) is no record: its input is done again too.
      if (typeof record?.input === 'string' && (record.status === 'ok' || record.status === 'error')) records.set(record.input, record);
    } catch {
      // a line cut short by a killed process: its input is simply done again
    }
  }
  return records;
}

/**
 * The files a record names that really are inside `folder`, links resolved, by key; any other (`../../secret.npy`,
 * an absolute path, a link out of the folder, a missing file) is left out: a report never reads or links it.
 */
export async function confinedFiles(folder: string, record: ResultRecord): Promise<Record<string, string>> {
  const root = await realpath(folder);
  const files: Record<string, string> = {};
  for (const [key, file] of Object.entries(record.files ?? {})) {
    const path = insideFolder(folder, file);
    const real = path && (await realpath(path).catch(() => undefined));
    if (real && insideFolder(root, relative(root, real))) files[key] = file;
  }
  return files;
}
