import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLens, type Lens } from '../../src/lens.ts';
import { readNpy, writeNpy } from '../../src/io/npy.ts';
import { UsageError } from '../../src/node/common-options.ts';
import { runExplain } from '../../src/node/explain-command.ts';
import { toRun } from '../../src/node/explain-options.ts';
import { readResults } from '../../src/node/results.ts';

const MODEL = 'models/sentiment.onnx';
const SAMPLES = ['samples/text/was_not_good.json', 'samples/text/i_liked_it.json'];
let root: string;
let lens: Lens;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gradlens-text-'));
  lens = await createLens();
});
afterAll(() => lens.close());

const explain = (out: string, files: string[], flags: string[] = []) =>
  runExplain(toRun([MODEL, ...files, '--out', out, '--format', 'npy,json,png', '--seed', '1', ...flags], {}), () => undefined, lens);

describe('gradlens explain on token files', () => {
  it('explains JSON {tokens, ids} files of different lengths: per-token values as the library gives them', async () => {
    const out = join(root, 'json');
    expect((await explain(out, SAMPLES, ['--baseline-token', '0', '--steps', '32'])).code).toBe(0);
    const records = await readResults(out);
    const model = await lens.load(new Uint8Array(await readFile(MODEL)));
    for (const file of SAMPLES) {
      const { tokens, ids } = JSON.parse(await readFile(file, 'utf8')) as { tokens: string[]; ids: number[] };
      const record = records.get(file)!;
      expect(record.status).toBe('ok');
      expect(record.tokens!.text).toEqual(tokens);
      expect(record.tokens!.layer).toBe('/token_embedding/Gather_output_0');
      const direct = await model.explainTokens(ids, { method: 'integrated-gradients', steps: 32, baselineToken: 0, seed: 1 });
      record.tokens!.values.forEach((v, i) => expect(v).toBeCloseTo(direct.tokens[i]!, 5));
      const npy = readNpy(new Uint8Array(await readFile(join(out, record.files!.npy!))));
      expect(npy.shape).toEqual([1, ids.length]);
      expect(record.files!.svg).toMatch(/\.svg$/);
      expect(await readFile(join(out, record.files!.svg!), 'utf8')).toContain(`>${tokens.at(-1)}<`);
    }
    await model.destroy();
  });

  it('a JSON list is one input per item; a .npy of ids takes its tokens from the vocabulary; L2 per token is ≥ 0', async () => {
    const list = join(root, 'two.json');
    await writeFile(list, JSON.stringify([{ ids: [1, 31, 15, 35] }, { tokens: ['[CLS]', 'dull'], ids: [1] }]));
    const npy = join(root, 'ids.npy');
    await writeFile(npy, writeNpy(BigInt64Array.of(1n, 31n, 21n), [3]));
    const out = join(root, 'list');
    expect((await explain(out, [list, npy], ['--reduce', 'l2', '--method', 'gradient-x-input'])).code).toBe(1); // one item is bad
    const records = await readResults(out);
    const first = records.get(`${list}#1`)!;
    expect(first.tokens!.text.slice(0, 2)).toEqual(['[CLS]', 'the']);
    expect(first.tokens!.values.every((v) => v >= 0)).toBe(true);
    expect(records.get(npy)!.tokens!.text).toEqual(['[CLS]', 'the', 'movie']);
    expect(records.get(`${list}#2`)).toMatchObject({ status: 'error', error: { code: 'BAD_INPUT', message: expect.stringMatching(/one per id/) } });
  });

  it('--baseline-token on an image model is a usage error', async () => {
    const run = toRun(['models/digits.onnx', 'samples/digits', '--out', join(root, 'no'), '--baseline-token', '0'], {});
    await expect(runExplain(run, () => undefined, lens)).rejects.toThrow(UsageError);
  });
});
