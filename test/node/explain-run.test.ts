import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../src/io/npy.ts';
import { UsageError } from '../../src/node/common-options.ts';
import { runExplain } from '../../src/node/explain-command.ts';
import { toRun } from '../../src/node/explain-options.ts';
import { outputStem } from '../../src/node/explain-outputs.ts';
import { LOCK_FILE, lockFolder } from '../../src/node/out-folder.ts';
import { readResults } from '../../src/node/results.ts';
import { fakeLens } from './fake-lens.ts';

const MODEL = 'models/tabular.onnx';
let root: string;
let inputs: string[];

/** An explain run as the CLI builds it, over the fake lens; the model file is real (its hash keys --resume). */
function explain(
  out: string,
  flags: string[] = [],
  files = inputs,
  options: { hang?: boolean; onContext?: () => void; shape?: number[]; model?: string } = {},
) {
  const fake = fakeLens(options.shape ?? [4], options);
  const run = toRun([options.model ?? MODEL, ...files, '--format', 'npy,json', '--out', out, '--seed', '1', ...flags], {});
  return { ...fake, result: runExplain(run, () => undefined, fake.lens) };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gradlens-run-'));
  await mkdir(join(root, 'in'));
  inputs = [];
  // Names that differ only in characters a file name cannot keep: each must keep its own attribution.
  for (const [i, name] of ['a b.npy', 'a_b.npy', 'a+b.npy'].entries()) {
    const path = join(root, 'in', name);
    await writeFile(path, writeNpy(Float32Array.of(i, i + 1, i + 2, i + 3), [4]));
    inputs.push(path);
  }
});

const tmpFiles = async (dir: string) => (await readdir(dir, { recursive: true })).filter((f) => String(f).endsWith('.tmp'));

describe('explain run: outputs', () => {
  it('keeps one attribution per input when names collide once made file-safe (a b, a_b, a+b)', async () => {
    const out = join(root, 'unique');
    const { result } = explain(out);
    expect((await result).code).toBe(0);
    const records = [...(await readResults(out)).values()];
    expect(new Set(records.map((r) => r.files!.npy)).size).toBe(3);
    for (const [i, record] of records.entries()) {
      expect(Array.from(readNpy(new Uint8Array(await readFile(join(out, record.files!.npy!)))).data as Float32Array)).toEqual([
        2 * i,
        2 * i + 2,
        2 * i + 4,
        2 * i + 6,
      ]);
    }
  });
});

describe('explain run: file-system errors', () => {
  const rejectsAsUsage = async (out: string, reason: RegExp) => {
    const { result, calls } = explain(out);
    await expect(result).rejects.toBeInstanceOf(UsageError);
    await expect(result).rejects.toThrow(reason);
    expect(calls).toHaveLength(0);
  };

  it('refuses an --out that names a file, or a folder under a file, with the path and the reason', async () => {
    const file = join(root, 'plain-file');
    await writeFile(file, 'x');
    await rejectsAsUsage(file, new RegExp(`${file} as the output folder: a file of that name is in the way`));
    await rejectsAsUsage(join(file, 'sub'), /a part of the path is a file/);
  });

  it.runIf(existsSync('/proc/self'))('refuses --out /proc/x at once (Node’s recursive mkdir never returns there)', async () => {
    await rejectsAsUsage('/proc/gradlens-x/y', /\/proc\/gradlens-x\/y as the output folder/);
  });

  it('records a folder in the way of one input’s file as that input’s WRITE_FAILED and writes the others, no .tmp left', async () => {
    const out = join(root, 'blocked');
    const id = [...(await readResults(join(root, 'unique'))).keys()].find((name) => name.endsWith('a_b.npy'))!;
    await mkdir(join(out, `${outputStem(id)}.npy`), { recursive: true });
    const { result } = explain(out);
    expect((await result).code).toBe(1);
    const records = await readResults(out);
    expect(records.get(id)).toMatchObject({
      status: 'error',
      error: { code: 'WRITE_FAILED', message: expect.stringMatching(/a folder is where the file should go \(EISDIR\)/) },
    });
    expect([...records.values()].filter((r) => r.status === 'ok')).toHaveLength(2);
    expect(await tmpFiles(out)).toEqual([]);
  });

  it.runIf(existsSync('/dev/full'))('stops with a usage error naming results.jsonl when the disk is full, no .tmp left', async () => {
    const out = join(root, 'full');
    await mkdir(out);
    await symlink('/dev/full', join(out, 'results.jsonl'));
    const { result } = explain(out);
    await expect(result).rejects.toBeInstanceOf(UsageError);
    await expect(result).rejects.toThrow(/results\.jsonl: the disk is full \(ENOSPC\)/);
    expect(await tmpFiles(out)).toEqual([]);
  });
});

describe('explain run: --resume', () => {
  it('refuses to resume another run’s results (method, model, seed, options), saying what differs', async () => {
    const out = join(root, 'resume-mix');
    expect((await explain(out, ['--method', 'saliency']).result).code).toBe(0);
    const cases: [string[], RegExp, string?][] = [
      [['--method', 'gradient-x-input'], /method saliency, this run gradient-x-input/],
      [['--method', 'saliency', '--seed', '2'], /seed 1, this run 2/],
      [['--method', 'saliency', '--steps', '8'], /settings .*this run .*"steps":8/],
      [['--method', 'saliency'], /model sha256 [0-9a-f]{64}, this run [0-9a-f]{64}/, 'models/digits.onnx'],
    ];
    for (const [flags, message, model] of cases) {
      const { result, calls } = explain(out, ['--resume', ...flags], inputs, model ? { model } : {});
      await expect(result).rejects.toThrow(message);
      expect(calls).toHaveLength(0);
    }
  });

  it('redoes an input whose .npy was deleted, with the seed of the run it resumes', async () => {
    const out = join(root, 'resume-deleted');
    expect((await explain(out, ['--method', 'saliency']).result).code).toBe(0);
    const records = await readResults(out);
    const [deleted] = [...records.values()];
    await rm(join(out, deleted!.files!.npy!));
    const fake = fakeLens([4]);
    const run = toRun([MODEL, ...inputs, '--format', 'npy,json', '--out', out, '--method', 'saliency', '--resume'], {});
    const { code, summary } = await runExplain(run, () => undefined, fake.lens);
    expect(code).toBe(0);
    expect(summary).toMatchObject({ done: 1, skipped: 2 });
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]!.options.seed).toBe(1);
    expect(existsSync(join(out, deleted!.files!.npy!))).toBe(true);
  });
});

describe('explain run: one run per output folder', () => {
  it('refuses a folder another running gradlens holds, naming its pid', async () => {
    const out = join(root, 'locked');
    await mkdir(out);
    const release = await lockFolder(out);
    const { result, calls } = explain(out);
    await expect(result).rejects.toThrow(new RegExp(`in use by another gradlens run \\(pid ${process.pid} on `));
    expect(calls).toHaveLength(0);
    await release();
    expect((await explain(out).result).code).toBe(0);
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
  });

  it('takes over the lock of a process that no longer runs', async () => {
    const out = join(root, 'stale');
    await mkdir(out);
    const dead = spawnSync('true').pid!;
    await writeFile(join(out, LOCK_FILE), JSON.stringify({ pid: dead, host: hostname(), started: '2026-01-01T00:00:00Z' }));
    expect((await explain(out).result).code).toBe(0);
    expect((await readResults(out)).size).toBe(3);
  });
});

describe('explain run: options that would fail every input', () => {
  const cases: [string, string[], RegExp, number[]][] = [
    [
      'expected gradients without baselines',
      ['--method', 'expected-gradients'],
      /--method expected-gradients draws its baselines from a set: give --baselines/,
      [4],
    ],
    ['a target beyond the classes', ['--target', '4'], /--target 4 is not a class of this model: its output has 4 \(0 … 3\)/, [4]],
    ['a --size the model does not take', ['--size', '32,32'], /--size 32,32: the model takes 28×28 images/, [1, 28, 28]],
    ['--channels the model does not take', ['--channels', '3'], /--channels 3: the model takes 1 channels/, [1, 28, 28]],
  ];
  for (const [what, flags, message, shape] of cases) {
    it(`refuses ${what} before any work`, async () => {
      const { result, calls } = explain(join(root, 'refused'), flags, inputs, { shape });
      await expect(result).rejects.toBeInstanceOf(UsageError);
      await expect(result).rejects.toThrow(message);
      expect(calls).toHaveLength(0);
    });
  }
});

describe('explain run: Ctrl-C', () => {
  it(
    'returns 130 at once while the first batch is still busy on the GPU (compiling kernels), writing nothing of it',
    { timeout: 30_000 },
    async () => {
      const out = join(root, 'sigint');
      const before = process.listeners('SIGINT');
      const { result, firstCall } = explain(out, [], inputs, { hang: true });
      await firstCall;
      const handler = process.listeners('SIGINT').find((listener) => !before.includes(listener))!;
      (handler as () => void)();
      const { code, summary } = await result;
      expect(code).toBe(130);
      expect(summary).toMatchObject({ interrupted: true, done: 0 });
      expect((await readResults(out)).size).toBe(0);
      expect(process.listeners('SIGINT')).toEqual(before);
    },
  );

  it('lets a batch that has begun writing finish and record its inputs, then stops with 130', async () => {
    const out = join(root, 'sigint-writing');
    const before = process.listeners('SIGINT');
    const interrupt = () => (process.listeners('SIGINT').find((listener) => !before.includes(listener)) as () => void)();
    const { result, calls } = explain(out, ['--batch', '2'], inputs, { onContext: interrupt });
    const { code, summary } = await result;
    expect(code).toBe(130);
    // The first batch (2 inputs) is whole and recorded; the second is never started.
    expect(summary).toMatchObject({ interrupted: true, done: 2 });
    expect(calls).toHaveLength(1);
    const records = [...(await readResults(out)).values()];
    expect(records.map((r) => r.status)).toEqual(['ok', 'ok']);
    for (const record of records) expect(existsSync(join(out, record.files!.npy!))).toBe(true);
  });
});
