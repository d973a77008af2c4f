import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runOcrDemo } from '../../src/node/ocr-demo.ts';
import { readResults } from '../../src/node/results.ts';

// `gradlens demo --ocr` end to end (heavy: a backward pass through PP-OCRv4's recognizer per character; CI or
// GRADLENS_HEAVY=1): a record and an overlay per recognised character, the direction classifier's, one report.
describe.runIf(process.env.CI || process.env.GRADLENS_HEAVY)('gradlens demo --ocr', () => {
  it('writes a heat map per character the recognizer read, the direction, and a report of them', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gradlens-ocr-demo-'));
    const lines: string[] = [];
    expect(await runOcrDemo(out, { backend: 'opengles' }, (line) => lines.push(line))).toBe(0);
    expect(lines.join('\n')).toContain('read "Gradlens 2026" (13 characters)');
    const characters = [...(await readResults(join(out, 'recognizer'))).values()];
    expect(characters.map((r) => r.outputTarget)).toEqual(characters.map((r) => expect.objectContaining({ step: expect.any(Number) })));
    expect(characters.map((r) => r.input.match(/'(.)'/)?.[1]).join('')).toBe('Gradlens 2026');
    for (const record of characters) expect(existsSync(join(out, 'recognizer', record.files!.png!))).toBe(true);
    const [direction] = [...(await readResults(join(out, 'direction'))).values()];
    expect(direction?.input).toMatch(/direction 0°/);
    const report = readFileSync(join(out, 'report.html'), 'utf8');
    for (const record of characters) expect(report).toContain(record.files!.png!);
  }, 3_600_000);
});
