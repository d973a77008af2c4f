import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const cli = new URL('../../dist/node/cli.js', import.meta.url).pathname;

it('GRADLENS_DEBUG=profile prints, at exit, the time of every kernel the run dispatched, adding up to the total', async () => {
  const out = mkdtempSync(join(tmpdir(), 'gradlens-profile-'));
  try {
    const env = { ...process.env, GRADLENS_DEBUG: 'profile' };
    const args = [cli, 'explain', 'models/digits.onnx', 'samples/digits/0_0003.png', '--method', 'integrated-gradients', '--out', out];
    const { stderr } = await run('node', args, { env, timeout: 120_000 });
    const table = stderr.slice(stderr.indexOf('[gradlens] profile:'));
    const total = Number(/profile: ([\d.]+) ms/.exec(table)?.[1]);
    const rows = [...table.matchAll(/^ +([\d.]+) ms +(\d+) × +[\d.]+ ms +(\S+)/gm)];
    const kernels = rows.map((row) => row[3]);
    for (const kernel of ['attribution/attribution_points', 'attribution/attribution_accumulate', 'attribution/attribution_finalize'])
      expect(kernels).toContain(kernel);
    expect(kernels.some((kernel) => kernel?.startsWith('conv2d/'))).toBe(true);
    const sum = rows.reduce((s, row) => s + Number(row[1]), 0);
    expect(Math.abs(sum - total)).toBeLessThan(0.05 * rows.length + 0.1); // rows are rounded to 0.1 ms
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
