import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeReport } from '../../src/node/report.ts';
import { appendResults, type ResultRecord } from '../../src/node/results.ts';

const record = (input: string, text: string[], values: number[]): ResultRecord => ({
  input,
  status: 'ok',
  method: 'integrated-gradients',
  target: 0,
  score: 2.5,
  tokens: { text, values, layer: '/token_embedding/Gather_output_0', reduce: 'sum' },
});

describe('the HTML report shows token inputs as shaded text', () => {
  it('one focusable, labelled span per token, shaded on one symmetric scale, with a legend; text escaped', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'gradlens-text-report-')), 'out');
    await mkdir(out, { recursive: true });
    await appendResults(out, [record('review.json', ['[CLS]', 'not', '<b>good</b>'], [0, -0.5, 2])]);
    const html = await readFile((await writeReport(out)).path, 'utf8');
    const spans = [...html.matchAll(/<span role="listitem" tabindex="0" title="([^"]*)" aria-label="([^"]*)" style="([^"]*)">([^<]*)<\/span>/g)];
    expect(spans.map((m) => m[2])).toEqual(['[CLS]: 0.00', 'not: −0.500', '&#60;b&#62;good&#60;/b&#62;: +2.00']);
    expect(spans.map((m) => m[3])).toEqual([
      'background: rgba(33, 102, 172, 0.000);',
      'background: rgba(33, 102, 172, 0.250);',
      'background: rgba(178, 24, 43, 1.000); color: #fff;',
    ]);
    expect(html).not.toContain('<b>good</b>');
    expect(html).toMatch(/<span>−2\.00<\/span><span class="scale" role="img"[^>]*><\/span><span>\+2\.00<\/span>/);
    expect(html).toContain('sum over /token_embedding/Gather_output_0');
  });

  it('a record whose tokens do not match its values shows no token view', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'gradlens-text-report-')), 'out');
    await mkdir(out, { recursive: true });
    await appendResults(out, [record('bad.json', ['a', 'b'], [1])]);
    const html = await readFile((await writeReport(out)).path, 'utf8');
    expect(html).not.toContain('role="listitem"');
  });
});
