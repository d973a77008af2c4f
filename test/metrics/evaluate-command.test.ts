import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateCommand } from '../../src/node/evaluate-command.ts';

const root = new URL('../../', import.meta.url).pathname;

describe('gradlens evaluate', () => {
  it('writes metrics.jsonl, the summary table and the charts for the demo digit CNN', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gradlens-evaluate-'));
    const inputs = ['0_0003.png', '7_0028.png'].map((f) => `${root}samples/digits/${f}`);
    const code = await evaluateCommand(
      [
        `${root}models/digits.onnx`,
        ...inputs,
        '--methods',
        'saliency,grad-cam',
        '--metrics',
        'deletion,insertion,randomisation,sparseness',
        '--steps',
        '14',
        '--out',
        out,
      ],
      () => undefined,
    );
    expect(code).toBe(0);
    const rows = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    // 2 inputs × 2 methods × (deletion-auc, aopc, insertion-auc, 3 randomisation similarities, sparseness).
    expect(rows).toHaveLength(2 * 2 * 7);
    expect(rows[0]).toMatchObject({ input: inputs[0], method: 'saliency', metric: 'deletion-auc' });
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toMatch(/\| saliency \| [-\d.]+ ± [\d.]+ \|/);
    for (const chart of ['deletion.svg', 'insertion.svg', 'randomisation.svg'])
      expect(readFileSync(join(out, chart), 'utf8')).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*<polyline[\s\S]*<\/svg>$/);
  });

  it('an unknown metric is a usage error (exit 2) that names the known ones', async () => {
    const lines: string[] = [];
    const code = await evaluateCommand([`${root}models/digits.onnx`, `${root}samples/digits/0_0003.png`, '--metrics', 'accuracy'], (line) =>
      lines.push(line),
    );
    expect(code).toBe(2);
    expect(lines.join('\n')).toMatch(/unknown metric "accuracy".*deletion/);
  });
});
