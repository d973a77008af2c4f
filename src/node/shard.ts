import { createHash } from 'node:crypto';
import { GradlensError } from '../gpu/errors.ts';

export interface Shard {
  index: number;
  count: number;
}

/**
 * `K/N` (K counted from 0), or K from JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs) with N from --shard-count or
 * GRADLENS_SHARD_COUNT. None of them: one shard holding everything.
 */
export function parseShard(flag: string | undefined, count: string | undefined, env: NodeJS.ProcessEnv): Shard {
  const text =
    flag ??
    (env.JOB_COMPLETION_INDEX !== undefined && (count ?? env.GRADLENS_SHARD_COUNT)
      ? `${env.JOB_COMPLETION_INDEX}/${count ?? env.GRADLENS_SHARD_COUNT}`
      : '0/1');
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const shard = match ? { index: Number(match[1]), count: Number(match[2]) } : undefined;
  if (!shard || shard.count < 1 || shard.index >= shard.count) {
    throw new GradlensError('BAD_PARAMS', `--shard must be K/N with 0 ≤ K < N, got "${text}"`);
  }
  return shard;
}

/** Whether an input belongs to a shard: by a hash of its id, so the split is stable whatever the order or the machine. */
export function inShard(id: string, shard: Shard): boolean {
  if (shard.count === 1) return true;
  return createHash('sha256').update(id).digest().readUInt32BE(0) % shard.count === shard.index;
}
