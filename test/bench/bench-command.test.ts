import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { BenchResult } from '../../bench/result.ts';
import { benchCommand } from '../../src/node/bench-command.ts';
import { UsageError } from '../../src/node/common-options.ts';

// The whole command at smoke-test sizes on SwiftShader, in this process: every suite, both TF.js peers. No timings are
// asserted (the machine is shared); the figures must exist, be positive, and agree where the method fixes them.
describe('gradlens bench --tiny on SwiftShader', () => {
  const out = mkdtempSync(join(tmpdir(), 'gradlens-bench-'));
  let result: BenchResult;
  let printed = '';

  // A saved run to --compare with: one metric this run also has, one it lacks.
  const previous = join(out, 'previous.json');
  writeFileSync(
    previous,
    JSON.stringify({
      coldStart: { firstAttributionMs: 1e9, compileMs: 1e9, runMs: 1e9 },
      kernels: [{ name: 'gemm 64×64×64', ms: 1e9, gflops: 1e-9 }],
      networks: [{ name: 'alexnet, no longer measured', imagesPerSecond: 1 }],
    }),
  );

  beforeAll(async () => {
    const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void (printed += `${line}\n`));
    try {
      expect(await benchCommand(['--tiny', '--backend', 'vulkan', '--repeats', '1', '--out', out, '--compare', previous], () => undefined)).toBe(0);
    } finally {
      log.mockRestore();
    }
    result = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8')) as BenchResult;
  }, 600_000);

  it('writes bench.json with the adapter report, the cold start split into compile and run, and every suite', () => {
    expect(result.scale).toBe('tiny');
    expect(result.reduced).toMatch(/smoke-test sizes/);
    expect(result.adapter.description).toMatch(/SwiftShader/);
    expect(result.adapter.featureLevel).toBe('core');
    expect(result.adapter).toHaveProperty('loopBudget');
    const cold = result.coldStart;
    expect(cold.modules).toBeGreaterThan(0);
    expect(cold.pipelines).toBeGreaterThan(0);
    expect(cold.compileMs).toBeGreaterThan(0);
    expect(cold.compileMs + cold.runMs).toBeCloseTo(cold.firstAttributionMs, 6);
    expect(cold.sinceProcessStartMs).toBeGreaterThanOrEqual(cold.firstAttributionMs);
    expect(result.kernels!.filter((row) => row.gflops! > 0).map((row) => row.name)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^gemm/), expect.stringMatching(/forward$/), expect.stringMatching(/input gradient$/)]),
    );
    expect(result.kernels!.find((row) => row.name.startsWith('elementwise add'))!.gbps).toBeGreaterThan(0);
    expect(result.networks!.map((row) => row.name)).toEqual([expect.stringMatching(/^resnet18 /), expect.stringMatching(/^resnet50 /)]);
    expect(result.networks!.every((row) => row.imagesPerSecond > 0)).toBe(true);
    expect(result.attribution!.rows.map((row) => `${row.model} ${row.method}`)).toEqual([
      'digits.onnx IG-8',
      'digits.onnx SmoothGrad-4',
      'digits.onnx Grad-CAM',
      'smallCnn 32×32×3 IG-8',
      'smallCnn 32×32×3 SmoothGrad-4',
      'smallCnn 32×32×3 Grad-CAM',
    ]);
  });

  it('runs the peer workload beside TF.js webgpu and wasm on the same weights, and the IG sums agree', () => {
    const peers = result.peers!;
    expect(Object.keys(peers.peers)).toEqual(['tfjs-webgpu', 'tfjs-wasm']);
    expect(peers.peers['tfjs-webgpu']).toMatch(/the adapter gradlens uses/);
    expect(peers.rows.map((row) => `${row.model} ${row.method}`)).toEqual([
      'digits.onnx IG-8 midpoint',
      'digits.onnx SmoothGrad-4',
      'smallCnn 32×32×3 IG-8 midpoint',
      'smallCnn 32×32×3 SmoothGrad-4',
    ]);
    for (const ig of peers.rows.filter((row) => row.method.startsWith('IG'))) {
      expect(Object.keys(ig.perSecond)).toEqual(['gradlens', 'tfjs-webgpu', 'tfjs-wasm']);
      // Midpoint IG's completeness: Σ attributions ≈ f(x) − f(0) for the top-1 class, the same number in each runtime.
      expect(ig.sum.gradlens).not.toBe(0);
      for (const engine of ['tfjs-webgpu', 'tfjs-wasm'])
        expect(Math.abs(ig.sum[engine]! - ig.sum.gradlens!)).toBeLessThan(1e-3 * Math.abs(ig.sum.gradlens!));
    }
    expect(peers.igSumsAgree).toBe(true);
    expect(printed).toMatch(/gradlens \/ tfjs-webgpu \| gradlens \/ tfjs-wasm/);
    expect(printed).toMatch(/IG sums agree across runtimes/);
  });

  it('writes bench.html: self-contained, an SVG bar chart per section', () => {
    const html = readFileSync(join(out, 'bench.html'), 'utf8');
    for (const id of ['adapter', 'cold-start', 'kernels', 'networks', 'attribution', 'peers', 'table']) expect(html).toContain(`id="${id}"`);
    expect(html.match(/<svg /g)!.length).toBeGreaterThanOrEqual(6);
    expect(html).not.toMatch(/<script|<link|src=|url\(/);
    expect(html.replaceAll('http://www.w3.org/2000/svg', '')).not.toMatch(/https?:/);
  });

  it('--compare prints the speed-up of each metric both runs have, and names the ones only the saved run has', () => {
    expect(printed).toMatch(/compared with .*previous\.json/);
    expect(printed).toMatch(/kernels\/gemm 64×64×64 .*GFLOP\/s\s+[\d.]+×/);
    expect(printed).toMatch(/cold start\/compile .* ms\s+[\d.]+×/);
    expect(printed).toMatch(/only in .*previous\.json: networks\/alexnet, no longer measured/);
  });
});

describe('gradlens bench usage errors', () => {
  it('refuses a missing --compare file, an unknown suite and two scales before opening a device', async () => {
    await expect(benchCommand(['--compare', '/nonexistent/bench.json'])).rejects.toThrow(UsageError);
    await expect(benchCommand(['--suite', 'kernels,gpus'])).rejects.toThrow(/--suite: "gpus" is not one of/);
    await expect(benchCommand(['--quick', '--full'])).rejects.toThrow(/choose one of --quick, --full/);
  });
});
