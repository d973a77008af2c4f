// What every bench suite shares: the size scale it runs at and the median of repeated timings.

/** tiny: a smoke test of every path; quick: reduced sizes (the default on a software adapter); full: the named sizes. */
export type Scale = 'tiny' | 'quick' | 'full';

export function median(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** Median wall time of `repeats` calls of `run`, after one untimed warm-up call. */
export async function medianMs(run: () => Promise<unknown>, repeats: number): Promise<number> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return median(times);
}
