// What one `gradlens bench` run writes to bench.json, and its figures as a flat list of named metrics (for --compare).
import type { AdapterReport } from '../src/gpu/device.ts';
import type { AttributionSuite } from './attribution.ts';
import type { ColdStart } from './cold-start.ts';
import type { KernelRow } from './kernels.ts';
import type { Scale } from './measure.ts';
import type { NetworkRow } from './networks.ts';

export const SUITES = ['kernels', 'networks', 'attribution', 'peers'] as const;
export type Suite = (typeof SUITES)[number];

/** The TF.js backends run beside gradlens by default (bench/peers.ts), where installed. */
export const PEERS_DEFAULT = ['webgpu', 'wasm'] as const;

export interface PeerSuite extends AttributionSuite {
  /** Largest |Σ IG(peer) − Σ IG(gradlens)| / |Σ IG(gradlens)| over the peers; the sums must agree (≤ 1e-3). */
  igSumDifference: number;
  igSumsAgree: boolean;
}

export interface BenchResult {
  gradlens: string;
  date: string;
  scale: Scale;
  /** Set when the sizes were reduced, saying why and how. */
  reduced?: string;
  adapter: AdapterReport;
  coldStart: ColdStart;
  kernels?: KernelRow[];
  networks?: NetworkRow[];
  attribution?: AttributionSuite;
  peers?: PeerSuite;
  notes: string[];
}

export interface Metric {
  /** Suite and figure, e.g. "kernels/gemm 512×512×512". */
  key: string;
  value: number;
  unit: string;
  better: 'higher' | 'lower';
}

export function metrics(result: BenchResult): Metric[] {
  const list: Metric[] = [];
  const cold = result.coldStart as ColdStart | undefined; // absent from a hand-trimmed or older file
  if (cold) {
    for (const [name, value] of [
      ['first attribution', cold.firstAttributionMs],
      ['compile', cold.compileMs],
      ['run', cold.runMs],
    ] as const) {
      list.push({ key: `cold start/${name}`, value, unit: 'ms', better: 'lower' });
    }
  }
  for (const row of result.kernels ?? []) {
    list.push({ key: `kernels/${row.name}`, value: row.gflops ?? row.gbps!, unit: row.gflops ? 'GFLOP/s' : 'GB/s', better: 'higher' });
  }
  for (const row of result.networks ?? []) list.push({ key: `networks/${row.name}`, value: row.imagesPerSecond, unit: 'images/s', better: 'higher' });
  for (const suite of ['attribution', 'peers'] as const) {
    for (const row of result[suite]?.rows ?? []) {
      for (const [engine, value] of Object.entries(row.perSecond)) {
        list.push({ key: `${suite}/${row.model} ${row.method} batch ${row.batch} ${engine}`, value, unit: 'attributions/s', better: 'higher' });
      }
    }
  }
  return list;
}
