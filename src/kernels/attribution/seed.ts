import { gridFor, type Dispatch } from '../../gpu/commands.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { GradlensError } from '../../gpu/errors.ts';
import { rowReduceIterations, stridedIterations } from '../../gpu/limits.ts';
import { WORKGROUP_SIZE, wgslEnum } from '../wgsl.ts';

/** What is differentiated per sample: the target's logit, its softmax probability, or its log-probability. */
export const SEED_SCORES = ['logit', 'probability', 'log-probability'] as const;
export type SeedScore = (typeof SEED_SCORES)[number];

/** The target value meaning "the row's top-1 class" (its first maximum on ties). */
export const TOP1 = -1;

export interface SeedDims {
  /** Samples (rows of logits). */
  n: number;
  /** Classes (columns of logits). */
  k: number;
  score: SeedScore;
  /** Invocations per row, a power of two ≤ 256; default `seedRowThreads(k)`. */
  rowThreads?: number;
  /** Add into gradLogits instead of overwriting it. */
  accumulate?: boolean;
}

/** One invocation per row up to 64 classes (no barriers); beyond that a power of two giving each about 8, up to 256. */
export function seedRowThreads(k: number): number {
  if (k <= 64) return 1;
  return Math.min(WORKGROUP_SIZE, 2 ** Math.ceil(Math.log2(Math.ceil(k / 8))));
}

/**
 * gradLogits [n, k] (=|+=) d score_n / d logits for L = Σ_n score_n: one-hot of the target (logit), p_t·(onehot − p)
 * (probability) or onehot − p (log-probability), p the row's softmax. `target` holds n i32 class indices, −1 for
 * top-1. Also writes `resolvedTarget` (n i32: the class used) and `score` (n f32: x_t, p_t or log p_t). A target
 * outside [−1, k) gives resolved −1, score 0 and a zero gradient row.
 */
export async function seedGradient(
  context: GpuContext,
  io: { logits: GPUBuffer; target: GPUBuffer; gradLogits: GPUBuffer; resolvedTarget: GPUBuffer; score: GPUBuffer },
  dims: SeedDims,
): Promise<Dispatch> {
  const rowThreads = dims.rowThreads ?? seedRowThreads(dims.k);
  if (!Number.isInteger(Math.log2(rowThreads)) || rowThreads > WORKGROUP_SIZE) {
    throw new GradlensError('BAD_PARAMS', `seed_gradient: rowThreads ${rowThreads} is not a power of two ≤ ${WORKGROUP_SIZE}`);
  }
  if (dims.k < 1) throw new GradlensError('BAD_PARAMS', `seed_gradient: the logits need at least one class, got k = ${dims.k}`);
  const module = context.kernels.variant('seed');
  const kernel = await context.kernels.kernel(module, 'seed_gradient', {
    SCORE: wgslEnum('seed', 'SCORE', dims.score),
    WORKGROUP_SIZE,
    ROW_THREADS: rowThreads,
  });
  const params = { n: dims.n, k: dims.k, accumulate: Number(dims.accumulate ?? false) };
  const resources = {
    params,
    logits: io.logits,
    target_class: io.target,
    grad_logits: io.gradLogits,
    resolved_target: io.resolvedTarget,
    score: io.score,
  };
  // Up to 3 walks over the invocation's share of the row, each followed by a tree reduction.
  const iterations = 3 * (stridedIterations(dims.k, rowThreads) + rowReduceIterations(rowThreads, module));
  return { bound: kernel.bind(context.device, resources), workgroups: gridFor(dims.n * rowThreads, WORKGROUP_SIZE), iterations };
}
