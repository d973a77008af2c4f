import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/io/npy.ts';
import { evaluateCommand } from '../../src/node/evaluate-command.ts';

const root = new URL('../../', import.meta.url).pathname;
const quiet = () => undefined;
const rowsOf = (out: string) =>
  readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { input: string; method: string; metric: string; value: number });
/** The first `count` sample rows of the tabular model as OUT/rows.npy (the CSV's last column is the label). */
function tabularRows(out: string, count: number): string {
  const rows = readFileSync(`${root}samples/tabular.csv`, 'utf8')
    .trim()
    .split('\n')
    .slice(1, count + 1)
    .map((line) => line.split(',').slice(0, 30).map(Number));
  const npy = join(out, 'rows.npy');
  writeFileSync(npy, writeNpy(Float32Array.from(rows.flat()), [count, 30]));
  return npy;
}
const valuesOf = (out: string, metric: string) =>
  rowsOf(out)
    .filter((row) => row.metric === metric)
    .map((row) => row.value);

describe('gradlens evaluate: ROAD, sensitivity-n, non-sensitivity and localisation metric ids', () => {
  it('road writes MoRF and LeRF AUCs in [0, 1] and their curves', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gradlens-evaluate-road-'));
    const code = await evaluateCommand(
      [`${root}models/digits.onnx`, `${root}samples/digits/3_0000.png`, '--methods', 'saliency', '--metrics', 'road', '--out', out],
      quiet,
    );
    expect(code).toBe(0);
    expect(rowsOf(out).map((row) => row.metric)).toEqual(['road-morf-auc', 'road-lerf-auc']);
    for (const value of rowsOf(out).map((row) => row.value)) (expect(value).toBeGreaterThanOrEqual(0), expect(value).toBeLessThanOrEqual(1));
    for (const chart of ['road-morf.svg', 'road-lerf.svg']) expect(readFileSync(join(out, chart), 'utf8')).toMatch(/<polyline[\s\S]*<\/svg>$/);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).charts).toEqual(['road-morf.svg', 'road-lerf.svg']);
  });

  it('sensitivity-n gives one correlation per subset size and non-sensitivity a violation count, on the tabular model', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gradlens-evaluate-subsets-'));
    const code = await evaluateCommand(
      [
        `${root}models/tabular.onnx`,
        tabularRows(out, 2),
        '--methods',
        'gradient-x-input',
        '--metrics',
        'sensitivity-n,non-sensitivity',
        '--subset-sizes',
        '1,5',
        '--samples',
        '10',
        '--out',
        out,
      ],
      quiet,
    );
    expect(code).toBe(0);
    expect([...new Set(rowsOf(out).map((row) => row.metric))]).toEqual(['sensitivity-n@1', 'sensitivity-n@5', 'non-sensitivity']);
    for (const value of [...valuesOf(out, 'sensitivity-n@1'), ...valuesOf(out, 'sensitivity-n@5')])
      expect(Math.abs(value)).toBeLessThanOrEqual(1 + 1e-9);
    for (const value of valuesOf(out, 'non-sensitivity')) expect(Number.isInteger(value) && value >= 0 && value <= 30).toBe(true);
    expect(readFileSync(join(out, 'sensitivity-n.svg'), 'utf8')).toMatch(/<polyline/);
  });

  it('--masks scores the pointing game, relevance mass and rank: 1 with a mask of every feature, 0 with an empty mask', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gradlens-evaluate-masks-'));
    const masks = join(out, 'masks.npy');
    writeFileSync(
      masks,
      writeNpy(
        Uint8Array.from({ length: 2 * 30 }, (_, e) => Number(e < 30)),
        [2, 30],
      ),
    );
    const code = await evaluateCommand(
      [
        `${root}models/tabular.onnx`,
        tabularRows(out, 2),
        '--methods',
        'saliency',
        '--metrics',
        'pointing-game,relevance-mass,relevance-rank',
        '--masks',
        masks,
        '--out',
        out,
      ],
      quiet,
    );
    expect(code).toBe(0);
    for (const metric of ['pointing-game', 'relevance-mass', 'relevance-rank']) expect(valuesOf(out, metric)).toEqual([1, 0]);
  });

  it('--boxes as an object keyed by input name: two boxes that together cover the input hold all the relevance', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gradlens-evaluate-boxes-'));
    const boxes = join(out, 'boxes.json');
    // A [30] input is one row of 30 columns; the name of an .npy input is FILE[i].
    writeFileSync(
      boxes,
      JSON.stringify({
        'rows.npy[0]': [
          { x0: 0, y0: 0, x1: 10, y1: 1 },
          { x0: 10, y0: 0, x1: 30, y1: 1 },
        ],
      }),
    );
    const code = await evaluateCommand(
      [
        `${root}models/tabular.onnx`,
        tabularRows(out, 1),
        '--methods',
        'saliency',
        '--metrics',
        'relevance-mass,pointing-game',
        '--boxes',
        boxes,
        '--out',
        out,
      ],
      quiet,
    );
    expect(code).toBe(0);
    expect(valuesOf(out, 'relevance-mass')).toEqual([1]);
    expect(valuesOf(out, 'pointing-game')).toEqual([1]);
  });

  it('a localisation metric without --masks or --boxes is a usage error (exit 2)', async () => {
    const lines: string[] = [];
    const code = await evaluateCommand([`${root}models/digits.onnx`, `${root}samples/digits/0_0003.png`, '--metrics', 'pointing-game'], (line) =>
      lines.push(line),
    );
    expect(code).toBe(2);
    expect(lines.join('\n')).toMatch(/--masks FILE.npy or --boxes FILE.json/);
  });
});
