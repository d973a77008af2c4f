import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const cli = new URL('../../dist/node/cli.js', import.meta.url).pathname;

describe('every result says which adapter and mode computed it', () => {
  for (const [backend, featureLevel, loopBudget] of [
    ['vulkan', 'core', null],
    ['opengles', 'compatibility', 58_981],
  ] as const) {
    it(`results.jsonl on ${backend}: ${featureLevel} mode, loop budget ${loopBudget}`, async () => {
      const out = await mkdtemp(join(tmpdir(), 'gradlens-adapter-'));
      await run(
        'node',
        [cli, 'explain', 'models/digits.onnx', 'samples/digits/3_0000.png', '--method', 'saliency', '--backend', backend, '--out', out],
        {
          timeout: 100_000,
        },
      );
      const [line] = (await readFile(join(out, 'results.jsonl'), 'utf8')).trim().split('\n');
      const record = JSON.parse(line!) as { adapter: Record<string, unknown> };
      expect(record.adapter).toMatchObject({ backend, featureLevel, software: true, loopBudget });
      expect(String(record.adapter.name)).toMatch(backend === 'vulkan' ? /swiftshader/i : /llvmpipe|opengl/i);
    });
  }
});
