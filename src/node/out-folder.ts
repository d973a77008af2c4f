import { unlinkSync } from 'node:fs';
import { mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { UsageError } from './common-options.ts';

/** A Node file-system error: its code (ENOSPC, EACCES, ...) says what went wrong. */
export const isFileSystemError = (error: unknown): error is NodeJS.ErrnoException =>
  error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string' && typeof (error as NodeJS.ErrnoException).syscall === 'string';

const REASONS: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'a folder is where the file should go',
  EEXIST: 'a file of that name is in the way',
  ENOENT: 'no such file or folder, and it cannot be created there',
  ENAMETOOLONG: 'the name is too long',
  EMFILE: 'too many open files',
};

/** The plain reason of a file-system error, with its code for a search (`the disk is full (ENOSPC)`). */
export function fileSystemReason(error: unknown): string {
  if (!isFileSystemError(error)) return error instanceof Error ? error.message : String(error);
  return `${REASONS[error.code!] ?? error.message} (${error.code})`;
}

/**
 * The output folder, made if missing. Made one level at a time: Node's recursive mkdir never returns on some paths
 * (`/proc/x`), and a file in the way is named here rather than failing later.
 */
export async function makeFolder(path: string): Promise<void> {
  try {
    await makeLevels(path);
  } catch (error) {
    throw new UsageError(`cannot use ${path} as the output folder: ${fileSystemReason(error)}`);
  }
}

async function makeLevels(path: string): Promise<void> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (info?.isDirectory()) return;
  if (info) throw Object.assign(new Error(`${path} is a file`), { code: 'EEXIST', syscall: 'mkdir' });
  if (dirname(path) !== path) await makeLevels(dirname(path));
  await mkdir(path);
}

export const LOCK_FILE = '.gradlens.lock';

interface Holder {
  pid: number;
  host: string;
  started: string;
}

/**
 * Takes the output folder for this process, so two runs never do the same work into one folder; returns the release.
 * A lock left by a process that no longer runs (killed, or the machine restarted) is taken over.
 */
export async function lockFolder(folder: string): Promise<() => Promise<void>> {
  const path = join(folder, LOCK_FILE);
  const me: Holder = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(path, JSON.stringify(me), { flag: 'wx' });
      break;
    } catch (error) {
      if (!isFileSystemError(error) || error.code !== 'EEXIST')
        throw new UsageError(`cannot lock the output folder ${folder}: ${fileSystemReason(error)}`);
    }
    const text = await readFile(path, 'utf8').catch(() => '');
    const holder = parseHolder(text);
    if ((holder && (attempt > 0 || running(holder))) || attempt > 2) {
      const who = holder ? ` (pid ${holder.pid} on ${holder.host}, since ${holder.started})` : '';
      throw new UsageError(
        `${folder} is in use by another gradlens run${who}: wait for it to finish or choose another --out (if no such run exists, delete ${path})`,
      );
    }
    // Stale: taken over only if it is still the lock just read (another run may have taken it over meanwhile).
    if ((await readFile(path, 'utf8').catch(() => '')) === text) await unlink(path).catch(() => undefined);
  }
  // A second Ctrl-C ends the process at once: the lock still goes with it.
  const release = () => {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  };
  process.once('exit', release);
  return async () => {
    process.off('exit', release);
    release();
  };
}

function parseHolder(text: string): Holder | undefined {
  try {
    const holder = JSON.parse(text) as Holder;
    return Number.isInteger(holder.pid) && holder.pid > 0 ? holder : undefined;
  } catch {
    return undefined; // a lock cut short by a killed writer
  }
}

/** Whether the lock's process still runs; one on another machine (a shared folder) is taken to be running. */
function running(holder: Holder): boolean {
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
