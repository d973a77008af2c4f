import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compare, formatComparison } from '../../bench/compare.ts';
import type { BenchResult } from '../../bench/result.ts';

/** A bench.json as a run would write it, with only the figures the comparison reads. */
function run(figures: { gemm: number; bandwidth: number; firstMs: number; compileMs: number; igPerSecond: number; extra?: boolean }): BenchResult {
  const adapter = {
    vendor: 'v',
    architecture: '',
    device: 'd',
    description: 'test adapter',
    backend: 'vulkan',
    software: true,
    featureLevel: 'core',
    features: [],
    limits: {},
    loopBudget: null,
  } as const;
  const row = (engine: string, value: number) => ({
    model: 'digits.onnx',
    method: 'IG-64 midpoint',
    batch: 1,
    points: 64,
    chunkSize: 64,
    perSecond: { gradlens: value, [engine]: value / 4 },
    ms: {},
    calls: {},
    sum: {},
    difference: {},
  });
  return {
    gradlens: '0.1.0',
    date: '2026-12-02T00:00:00Z',
    scale: 'quick',
    adapter: { ...adapter, features: [], shaderF16: false, precision: 'f32', subgroupKernels: false },
    coldStart: {
      model: 'digits.onnx',
      method: 'ig',
      sinceProcessStartMs: 0,
      adapterMs: 0,
      loadMs: 0,
      firstAttributionMs: figures.firstMs,
      compileMs: figures.compileMs,
      runMs: figures.firstMs - figures.compileMs,
      modules: 1,
      pipelines: 1,
      warmMs: 0,
    },
    kernels: [
      { name: 'gemm 256×256×256', ms: 1, gflops: figures.gemm },
      { name: 'elementwise add 4 M floats', ms: 1, gbps: figures.bandwidth },
      ...(figures.extra ? [{ name: 'gemm 2048×2048×2048', ms: 1, gflops: 1 }] : []),
    ],
    peers: { peers: { 'tfjs-wasm': 'CPU' }, notes: [], rows: [row('tfjs-wasm', figures.igPerSecond)], igSumDifference: 0, igSumsAgree: true },
    notes: [],
  };
}

describe('gradlens bench --compare', () => {
  it('gives each shared metric as a speed-up: current/previous for throughputs, previous/current for times', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradlens-compare-'));
    writeFileSync(
      join(dir, 'before.json'),
      JSON.stringify(run({ gemm: 10, bandwidth: 8, firstMs: 3000, compileMs: 2000, igPerSecond: 2, extra: true })),
    );
    writeFileSync(join(dir, 'after.json'), JSON.stringify(run({ gemm: 25, bandwidth: 4, firstMs: 1500, compileMs: 500, igPerSecond: 3 })));
    const [before, after] = ['before', 'after'].map((name) => JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as BenchResult);
    const { rows, onlyPrevious, onlyCurrent } = compare(before!, after!);
    const speedup = Object.fromEntries(rows.map((row) => [row.key, row.speedup]));
    expect(speedup['kernels/gemm 256×256×256']).toBeCloseTo(2.5, 12);
    expect(speedup['kernels/elementwise add 4 M floats']).toBeCloseTo(0.5, 12);
    expect(speedup['cold start/first attribution']).toBeCloseTo(2, 12);
    expect(speedup['cold start/compile']).toBeCloseTo(4, 12);
    expect(speedup['cold start/run']).toBeCloseTo(1000 / 1000, 12);
    expect(speedup['peers/digits.onnx IG-64 midpoint batch 1 gradlens']).toBeCloseTo(1.5, 12);
    expect(speedup['peers/digits.onnx IG-64 midpoint batch 1 tfjs-wasm']).toBeCloseTo(1.5, 12);
    expect(rows.find((row) => row.key === 'kernels/gemm 256×256×256')).toMatchObject({ previous: 10, current: 25, unit: 'GFLOP/s' });
    expect(onlyPrevious).toEqual(['kernels/gemm 2048×2048×2048']);
    expect(onlyCurrent).toEqual([]);
    const text = formatComparison({ rows, onlyPrevious, onlyCurrent }, 'before.json');
    expect(text).toMatch(/gemm 256×256×256\s+10\.0 →\s+25\.0 GFLOP\/s\s+2\.50×/);
    expect(text).toContain('only in before.json: kernels/gemm 2048×2048×2048');
  });
});
