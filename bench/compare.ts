// --compare: each metric of this run against the same metric of a saved bench.json, as a speed-up (> 1 is faster now).
import { metrics, type BenchResult } from './result.ts';

export interface Comparison {
  key: string;
  unit: string;
  previous: number;
  current: number;
  /** current/previous for throughputs, previous/current for times: > 1 means this run is faster. */
  speedup: number;
}

export interface CompareResult {
  rows: Comparison[];
  /** Metrics in only one of the two runs (another scale, suite or peer). */
  onlyPrevious: string[];
  onlyCurrent: string[];
}

export function compare(previous: BenchResult, current: BenchResult): CompareResult {
  const before = new Map(metrics(previous).map((metric) => [metric.key, metric]));
  const now = metrics(current);
  const rows: Comparison[] = [];
  for (const metric of now) {
    const old = before.get(metric.key);
    if (!old) continue;
    const speedup = metric.better === 'higher' ? metric.value / old.value : old.value / metric.value;
    rows.push({ key: metric.key, unit: metric.unit, previous: old.value, current: metric.value, speedup });
  }
  const keys = new Set(now.map((metric) => metric.key));
  return { rows, onlyPrevious: [...before.keys()].filter((key) => !keys.has(key)), onlyCurrent: [...keys].filter((key) => !before.has(key)) };
}

export function formatComparison(result: CompareResult, against: string): string {
  const width = Math.max(20, ...result.rows.map((row) => row.key.length));
  const lines = [`compared with ${against} (speed-up: > 1 is faster in this run)`];
  for (const row of result.rows) {
    lines.push(
      `${row.key.padEnd(width)}  ${fmt(row.previous).padStart(9)} → ${fmt(row.current).padStart(9)} ${row.unit.padEnd(14)} ${row.speedup.toFixed(2)}×`,
    );
  }
  if (result.onlyPrevious.length) lines.push(`only in ${against}: ${result.onlyPrevious.join('; ')}`);
  if (result.onlyCurrent.length) lines.push(`only in this run: ${result.onlyCurrent.join('; ')}`);
  return lines.join('\n');
}

export const fmt = (value: number): string => (Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3));
