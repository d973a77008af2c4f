import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/io/npy.ts';
import { evaluateCommand } from '../../src/node/evaluate-command.ts';
import { writeReport } from '../../src/node/report.ts';

const root = new URL('../../', import.meta.url).pathname;

/** The first sample row of the tabular model (a fast model) as DIR/row.npy. */
function tabularRow(dir: string): string {
  const row = readFileSync(`${root}samples/tabular.csv`, 'utf8').split('\n')[1]!.split(',').slice(0, 30).map(Number);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'row.npy'), writeNpy(Float32Array.from(row), [1, 30]));
  return join(dir, 'row.npy');
}

describe('gradlens report of a gradlens evaluate folder', () => {
  it('shows the summary table and links every chart the run wrote', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gradlens-evaluate-report-'));
    const code = await evaluateCommand(
      [
        `${root}models/tabular.onnx`,
        tabularRow(out),
        '--methods',
        'saliency',
        '--metrics',
        'deletion,insertion,sparseness',
        '--steps',
        '4',
        '--out',
        out,
      ],
      () => undefined,
    );
    expect(code).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    const report = await writeReport(out);
    const html = readFileSync(report.path, 'utf8');
    expect(report.inputs).toBe(1);
    expect(html).toMatch(/<th>method<\/th><th>deletion-auc<\/th><th>aopc<\/th><th>insertion-auc<\/th><th>sparseness<\/th>/);
    const sparseness = summary.summary.saliency.sparseness.mean as number;
    expect(html).toContain(`<td>saliency</td>`);
    expect(html).toContain(`<td>${sparseness.toFixed(3)} ± 0.000</td>`);
    expect(html).toContain('<img src="deletion.svg" alt="deletion chart">');
    expect(html).toContain('<img src="insertion.svg" alt="insertion chart">');
  });

  it('finds an evaluation in a subfolder and links its charts through it', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gradlens-evaluate-report-'));
    const code = await evaluateCommand(
      [`${root}models/tabular.onnx`, tabularRow(out), '--methods', 'saliency', '--metrics', 'deletion', '--steps', '2', '--out', join(out, 'run 1')],
      () => undefined,
    );
    expect(code).toBe(0);
    const html = readFileSync((await writeReport(out)).path, 'utf8');
    expect(html).toContain('<small>(run 1/)</small>');
    expect(html).toContain('<img src="run%201/deletion.svg"');
  });
});
