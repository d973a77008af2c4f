import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fnv1a, parseTuneFile, type TuneStore } from '../gpu/tune.ts';

/** `$XDG_CACHE_HOME/gradlens`, else `~/.cache/gradlens`. */
export function defaultTuneFolder(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'gradlens');
}

/**
 * Node: one JSON file per adapter, `tune-<hash of the adapter key>.json`, in `folder`. A missing file is no cache; a
 * corrupt or stale one is a note, never an error; writes go to a temporary file renamed over the old one (atomic).
 */
export function fileTuneStore(folder = defaultTuneFolder()): TuneStore {
  const path = (adapter: string) => join(folder, `tune-${fnv1a(adapter)}.json`);
  return {
    where: folder,
    load(adapter, kernels) {
      let text: string;
      try {
        text = readFileSync(path(adapter), 'utf8');
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        return code === 'ENOENT' ? {} : { note: `autotune cache ${path(adapter)} unreadable (${code}); ignored` };
      }
      return parseTuneFile(text, adapter, kernels, path(adapter));
    },
    save(file) {
      mkdirSync(folder, { recursive: true });
      const target = path(file.adapter);
      const temporary = `${target}.${process.pid}.${Date.now()}.tmp`;
      writeFileSync(temporary, `${JSON.stringify(file, null, 1)}\n`);
      renameSync(temporary, target);
    },
  };
}
