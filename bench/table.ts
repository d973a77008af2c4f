// The bench run as text: the adapter, cold start, then a table per suite; attribution rows carry gradlens's ratio
// to each peer measured in the same run.
import { adapterIdentity } from '../src/gpu/device.ts';
import type { AttributionSuite } from './attribution.ts';
import type { ColdStart } from './cold-start.ts';
import { fmt } from './compare.ts';
import type { BenchResult } from './result.ts';

export function adapterLine(result: BenchResult): string {
  const { name, backend, featureLevel, software, loopBudget } = adapterIdentity(result.adapter);
  const features = result.adapter.features.length ? result.adapter.features.join(', ') : 'no optional features';
  const kernels = `${result.adapter.subgroupKernels ? ', subgroup kernels' : ''}${result.adapter.precision === 'f16' ? ', f16 weights' : ''}`;
  const tuned = result.adapter.tuning?.entries ? `${result.adapter.tuning.entries} shape classes autotuned` : 'not autotuned (gradlens tune)';
  return `${name} (${result.adapter.vendor}, ${backend}, ${featureLevel}${software ? ', software' : ''}; ${features}${kernels}; loop budget ${loopBudget ?? 'none'}; ${tuned})`;
}

export function coldStartLine(cold: ColdStart): string {
  return (
    `cold start, ${cold.model}, ${cold.method}: first attribution ${fmt(cold.sinceProcessStartMs)} ms after process start ` +
    `(adapter ${fmt(cold.adapterMs)} ms, model ${fmt(cold.loadMs)} ms, first call ${fmt(cold.firstAttributionMs)} ms = ` +
    `compile ${fmt(cold.compileMs)} ms [${cold.modules} modules, ${cold.pipelines} pipelines] + run ${fmt(cold.runMs)} ms); warm call ${fmt(cold.warmMs)} ms`
  );
}

function attributionTable(title: string, suite: AttributionSuite): string[] {
  const engines = ['gradlens', ...Object.keys(suite.peers)];
  const peers = engines.slice(1);
  const lines = [title, ...peers.map((peer) => `  ${peer}: ${suite.peers[peer]}`), ...suite.notes.map((note) => `  note: ${note}`)];
  lines.push(['model', 'method', 'batch', ...engines.map((e) => `${e} /s`), ...peers.map((p) => `gradlens / ${p}`)].join(' | '));
  for (const row of suite.rows) {
    const ratios = peers.map((peer) => (row.perSecond[peer] ? `${(row.perSecond.gradlens! / row.perSecond[peer]!).toFixed(2)}×` : '–'));
    const cells = [row.model, row.method, String(row.batch), ...engines.map((e) => (row.perSecond[e] ? fmt(row.perSecond[e]!) : '–')), ...ratios];
    const differences = Object.entries(row.difference).map(([peer, d]) => `${peer} differs by ${d.toExponential(1)}`);
    lines.push(`${cells.join(' | ')}${differences.length ? `   (${differences.join(', ')})` : ''}`);
  }
  return lines;
}

export function formatBench(result: BenchResult): string {
  const lines = [`gradlens bench (${result.scale}) on ${adapterLine(result)}`];
  if (result.reduced) lines.push(`reduced sizes: ${result.reduced}`);
  lines.push('', coldStartLine(result.coldStart));
  if (result.kernels) {
    lines.push('', 'kernels');
    for (const row of result.kernels) {
      const rate = row.gflops !== undefined ? `${fmt(row.gflops)} GFLOP/s` : `${fmt(row.gbps!)} GB/s`;
      const plain =
        row.plainMs !== undefined
          ? `  (${row.plainName ?? 'plain tree'} ${row.plainMs.toFixed(2)} ms, interleaved: ×${(row.plainMs / row.ms).toFixed(2)})`
          : '';
      const check = row.maxError === undefined ? '' : `; max |error| vs float64 ${row.maxError.toExponential(1)}`;
      const plainCheck = row.plainMaxError === undefined ? '' : ` (${row.plainName ?? 'plain'} ${row.plainMaxError.toExponential(1)})`;
      lines.push(`  ${row.name.padEnd(58)} ${row.ms.toFixed(2).padStart(9)} ms  ${rate}${plain}${check}${plainCheck}`);
    }
  }
  if (result.networks) {
    lines.push('', 'networks');
    for (const row of result.networks) {
      lines.push(
        `  ${row.name.padEnd(58)} ${row.ms.toFixed(1).padStart(9)} ms  ${fmt(row.imagesPerSecond)} images/s, ${row.activationMiB.toFixed(0)} MiB of activations`,
      );
    }
  }
  if (result.attribution) lines.push('', ...attributionTable('attribution methods', result.attribution));
  if (result.peers) {
    lines.push('', ...attributionTable('peers (the issue-17 workload)', result.peers));
    lines.push(
      `IG sums ${result.peers.igSumsAgree ? 'agree' : 'DISAGREE'} across runtimes (largest relative difference ${result.peers.igSumDifference.toExponential(1)})`,
    );
  }
  for (const note of result.notes) lines.push(`note: ${note}`);
  return lines.join('\n');
}
