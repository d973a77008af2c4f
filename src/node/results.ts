import { appendFile, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const RESULTS_FILE = 'results.jsonl';

/** One line of results.jsonl: what was explained, how, and what came out (or the error). */
export interface ResultRecord {
  input: string;
  status: 'ok' | 'error';
  model?: { path: string; sha256: string };
  method?: string;
  options?: Record<string, unknown>;
  seed?: number;
  target?: number;
  score?: number;
  delta?: number;
  /**
   * The input's place in its GPU batch, for the record only: every random draw is keyed by the input's stream id (a hash
   * of its name), so the seed alone reproduces its map, whatever batch it shared.
   */
  batch?: { size: number; position: number };
  files?: Record<string, string>;
  timing?: { loadMs: number; explainMs: number; writeMs: number; points: number };
  error?: { code: string; message: string };
}

/** Writes to a temporary name in the same folder, then renames: a reader (or a Ctrl-C) never sees half a file. */
export async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, data);
  await rename(temporary, path);
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
      records.set(record.input, record);
    } catch {
      // a line cut short by a killed process: its input is simply done again
    }
  }
  return records;
}
