import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pngjs from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../src/io/npy.ts';
import { createLens } from '../../src/lens.ts';
import { encodePng, loadImage } from '../../src/node/image.ts';

const run = promisify(execFile);
const cli = new URL('../../dist/node/cli.js', import.meta.url).pathname;
const DIGITS = 'models/digits.onnx';
const TABULAR = 'models/tabular.onnx';
const digit = (name: string) => `samples/digits/${name}.png`;
const pixel = (index: number) => [index * 4, index * 4 + 4] as const;

interface Line {
  input: string;
  status: 'ok' | 'error';
  model?: { sha256: string };
  method?: string;
  seed?: number;
  target?: number;
  score?: number;
  delta?: number;
  files?: Record<string, string>;
  error?: { code: string };
}

async function gradlens(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', [cli, ...args], { env: { ...process.env, ...env }, timeout: 100_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number | string; killed?: boolean; stdout: string; stderr: string };
    if (e.killed) throw new Error(`gradlens ${args.join(' ')} did not finish within 100 s`);
    return { code: Number(e.code), stdout: e.stdout, stderr: e.stderr };
  }
}

async function results(out: string): Promise<Line[]> {
  return (await readFile(join(out, 'results.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Line);
}

let root: string;
const outDir = async (name: string) => join(root, name);

describe('gradlens explain', () => {
  beforeAll(async () => {
    if (!existsSync(cli)) throw new Error('dist/node/cli.js is missing: run `npm run build`');
    root = await mkdtemp(join(tmpdir(), 'gradlens-cli-'));
  });

  it('writes per input an .npy, an overlay PNG and a results line equal to explain() with the same seed', async () => {
    const inputs = [digit('3_0000'), digit('7_0028'), digit('9_0006')];
    const out = await outDir('match');
    const cliRun = await gradlens([
      'explain',
      DIGITS,
      ...inputs,
      '--method',
      'integrated-gradients',
      '--steps',
      '4',
      '--seed',
      '7',
      '--batch',
      '3',
      '--out',
      out,
      '--format',
      'png,npy,json',
    ]);
    expect(cliRun.code).toBe(0);

    const lens = await createLens();
    const model = await lens.load(new Uint8Array(await readFile(DIGITS)));
    const loaded = await Promise.all(inputs.map((file) => loadImage(file, { channels: 1, size: [28, 28] })));
    const batch = new Float32Array(3 * 784);
    loaded.forEach((image, i) => batch.set(image.data, i * 784));
    const expected = await model.explain(batch, { method: 'integrated-gradients', steps: 4, seed: 7 });
    await lens.close();

    const sha256 = createHash('sha256')
      .update(await readFile(DIGITS))
      .digest('hex');
    const lines = await results(out);
    expect(lines.map((l) => l.input)).toEqual(inputs);
    for (const [i, line] of lines.entries()) {
      expect(line).toMatchObject({ status: 'ok', method: 'integrated-gradients', seed: 7, model: { sha256 }, target: expected.target[i] });
      expect(line.score).toBeCloseTo(expected.score[i]!, 5);
      expect(line.delta).toBeCloseTo(expected.delta![i]!, 5);
      const npy = readNpy(new Uint8Array(await readFile(join(out, line.files!.npy!))));
      expect(npy.shape).toEqual([1, 1, 28, 28]);
      expect(Array.from(npy.data as Float32Array)).toEqual(Array.from(expected.attribution.subarray(i * 784, (i + 1) * 784)));
      const png = pngjs.PNG.sync.read(await readFile(join(out, line.files!.png!)));
      expect([png.width, png.height]).toEqual([28, 28]);
      expect(JSON.parse(await readFile(join(out, line.files!.json!), 'utf8')).input).toBe(inputs[i]);
    }
  });

  it('records a corrupt image and a wrong-shaped array with their errors, finishes the good inputs and exits 1', async () => {
    const out = await outDir('corrupt');
    const inputs = [digit('0_0003'), 'test/node/fixtures/corrupt.png', digit('1_0002'), 'test/node/fixtures/wrong-shape.npy'];
    const { code } = await gradlens(['explain', DIGITS, ...inputs, '--method', 'saliency', '--seed', '1', '--out', out]);
    expect(code).toBe(1);
    const byInput = new Map((await results(out)).map((l) => [l.input, l]));
    expect(byInput.get('test/node/fixtures/corrupt.png')).toMatchObject({ status: 'error', error: { code: 'BAD_INPUT' } });
    expect(byInput.get('test/node/fixtures/wrong-shape.npy')).toMatchObject({ status: 'error', error: { code: 'BAD_INPUT' } });
    for (const good of [digit('0_0003'), digit('1_0002')]) {
      expect(byInput.get(good)?.status).toBe('ok');
      expect(existsSync(join(out, byInput.get(good)!.files!.png!))).toBe(true);
    }
  });

  it('splits inputs into shards that together cover every input exactly once, and --resume does no input twice', async () => {
    const common = ['explain', TABULAR, 'samples/tabular.csv', '--method', 'saliency', '--seed', '3'];
    const [first, second] = [await outDir('shard0'), await outDir('shard1')];
    expect((await gradlens([...common, '--shard', '0/2', '--out', first])).code).toBe(0);
    // Shard 1 of 2 chosen as a Kubernetes Indexed Job does: the index from the environment.
    expect((await gradlens([...common, '--shard-count', '2', '--out', second], { JOB_COMPLETION_INDEX: '1' })).code).toBe(0);
    const a = (await results(first)).map((l) => l.input);
    const b = (await results(second)).map((l) => l.input);
    const all = Array.from({ length: 20 }, (_, i) => `samples/tabular.csv#${i + 1}`);
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
    expect([...a, ...b].sort()).toEqual([...all].sort());

    const before = await stat(join(first, (await results(first))[0]!.files!.npy!));
    const resumed = await gradlens([...common, '--resume', '--out', first, '--json']);
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ done: b.length, skipped: a.length });
    expect((await results(first)).map((l) => l.input).sort()).toEqual([...all].sort());
    expect((await stat(join(first, (await results(first))[0]!.files!.npy!))).mtimeMs).toBe(before.mtimeMs);
  });

  it('stops on Ctrl-C (SIGINT) with exit code 130, keeping finished inputs and no half-written file', async () => {
    const out = await outDir('sigint');
    const child = spawn(
      'node',
      [cli, 'explain', DIGITS, 'samples/digits', '--steps', '64', '--batch', '1', '--seed', '2', '--out', out, '--format', 'png,npy,json'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('"event":"progress"')) resolve();
      });
      child.on('exit', () => reject(new Error(`exited before any progress: ${stderr}`)));
    });
    child.kill('SIGINT');
    expect(await exited).toBe(130);

    const lines = await results(out);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThan(10);
    const files = await readdir(out);
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // Every file there is whole, and is one that a results line names: nothing of an abandoned batch remains.
    const named = new Set(lines.flatMap((l) => Object.values(l.files ?? {})));
    for (const file of files.filter((f) => f !== 'results.jsonl')) {
      expect(named.has(file)).toBe(true);
      const bytes = await readFile(join(out, file));
      if (file.endsWith('.npy')) expect(readNpy(new Uint8Array(bytes)).shape).toEqual([1, 1, 28, 28]);
      if (file.endsWith('.png')) expect(pngjs.PNG.sync.read(bytes).width).toBe(28);
      if (file.endsWith('.json')) expect(JSON.parse(bytes.toString()).status).toBe('ok');
    }
  });

  it('writes a self-contained HTML report with each input, its overlay, target and score', async () => {
    const out = await outDir('match');
    const { code, stdout } = await gradlens(['report', out]);
    expect(code).toBe(0);
    expect(stdout).toContain('report.html');
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<style>');
    // Nothing fetched from elsewhere: the only scripts are the widgets' bundle copied beside it and the inline enhancer.
    expect(html).not.toMatch(/<link|https?:\/\//);
    expect([...html.matchAll(/<script src="([^"]*)"/g)].map((m) => m[1]).every((src) => src === 'gradlens-components.js')).toBe(true);
    for (const line of await results(out)) {
      expect(html).toContain(`src="${line.files!.png}"`);
      expect(html).toContain(`src="${line.files!.input}"`);
      expect(html).toContain(`<dt>target</dt><dd>${line.target}</dd>`);
    }
    expect(html).toContain('&#34;steps&#34;:4');
    // Self-contained: every link is a file inside the folder (input thumbnails copied there), so file:// and http both work.
    for (const [, reference] of html.matchAll(/(?:src|href)="([^"]*)"/g)) {
      expect(reference).not.toMatch(/^(\/|\.\.|[a-z]+:)/);
      expect(existsSync(join(out, decodeURIComponent(reference!)))).toBe(true);
    }
  });

  it('keeps inputs apart whose names differ only in characters a file name cannot keep, and draws huge images small', async () => {
    const dir = join(root, 'names');
    await mkdir(dir);
    const sources = [digit('3_0000'), digit('7_0028'), digit('9_0006')];
    const names = ['a b.png', 'a_b.png', 'a+b.png'];
    for (const [i, name] of names.entries()) await copyFile(sources[i]!, join(dir, name));
    // A digit blown up to 2400×1800 (nearest neighbour): the model still gets 28×28, the overlay is drawn at most 1024 wide.
    const { image } = await loadImage(digit('5_0014'), { channels: 1 });
    const big = new Uint8Array(2400 * 1800 * 4);
    for (let y = 0; y < 1800; y++) {
      for (let x = 0; x < 2400; x++)
        big.set(image.data.subarray(...pixel(Math.floor((y * 28) / 1800) * 28 + Math.floor((x * 28) / 2400))), (y * 2400 + x) * 4);
    }
    await writeFile(join(dir, 'big.png'), encodePng(big, 2400, 1800));
    const out = await outDir('names-out');
    const { code } = await gradlens(['explain', DIGITS, dir, '--method', 'saliency', '--seed', '1', '--out', out]);
    expect(code).toBe(0);
    const lines = await results(out);
    expect(lines).toHaveLength(4);
    expect(new Set(lines.map((l) => l.files!.npy)).size).toBe(4);
    // Each name keeps its own attribution: the three 28×28 digits differ, so their maps do.
    const maps = await Promise.all(
      lines.filter((l) => !l.input.endsWith('big.png')).map(async (l) => Buffer.from(await readFile(join(out, l.files!.npy!))).toString('base64')),
    );
    expect(new Set(maps).size).toBe(3);
    expect((await readdir(out)).filter((f) => /\.png\.png$|\.npy\.npy$/.test(f))).toEqual([]);
    const overlay = pngjs.PNG.sync.read(await readFile(join(out, lines.find((l) => l.input.endsWith('big.png'))!.files!.png!)));
    expect([overlay.width, overlay.height]).toEqual([1024, 768]);
  });

  it('draws a tabular input as a labelled bar chart of its features', async () => {
    const out = await outDir('bars');
    expect(
      (await gradlens(['explain', TABULAR, 'samples/tabular.csv', '--method', 'saliency', '--seed', '1', '--shard', '0/5', '--out', out])).code,
    ).toBe(0);
    const [line] = await results(out);
    const svg = await readFile(join(out, line!.files!.svg!), 'utf8');
    expect(svg.match(/<rect x/g)).toHaveLength(30);
    expect(svg).toContain('>mean radius<');
    expect(svg).toContain('>worst fractal dimension<');
  });

  it('exits 2 before any work, the reason on screen, for options that would fail every input', async () => {
    const cases: [string[], RegExp][] = [
      [['--method', 'expected-gradients'], /--method expected-gradients draws its baselines from a set: give --baselines/],
      [['--target', '10'], /--target 10 is not a class of this model: its output has 10 \(0 … 9\)/],
      [['--size', '32,32'], /--size 32,32: the model takes 28×28 images/],
    ];
    for (const [flags, reason] of cases) {
      const out = await outDir(`refused-${flags[0]}`);
      const { code, stderr } = await gradlens(['explain', DIGITS, digit('3_0000'), ...flags, '--out', out]);
      expect(code).toBe(2);
      expect(stderr).toMatch(reason);
      expect(existsSync(join(out, 'results.jsonl'))).toBe(false);
    }
  });

  it('exits 2 naming the path and the reason when --out cannot be a folder (a file, under /proc), without hanging', async () => {
    const file = join(root, 'a-file');
    await writeFile(file, '');
    for (const [out, reason] of [
      [file, 'a file of that name is in the way'],
      ['/proc/gradlens/out', 'no such file or folder'],
    ] as const) {
      const { code, stderr } = await gradlens(['explain', DIGITS, digit('3_0000'), '--out', out]);
      expect(code).toBe(2);
      expect(stderr).toContain(`cannot use ${out} as the output folder: ${reason}`);
      expect(stderr).not.toMatch(/\n\s+at .*(\.[jt]s:\d+|node:internal)/);
    }
    const evaluate = await gradlens(['evaluate', DIGITS, digit('3_0000'), '--out', '/proc/gradlens/out']);
    expect(evaluate.code).toBe(2);
    expect(evaluate.stderr).toContain('cannot use /proc/gradlens/out as the output folder');
  });

  it('exits 2, not 3, naming results.jsonl when the disk is full, with no stack and no .tmp left', async () => {
    const out = await outDir('full-disk');
    await mkdir(out);
    await symlink('/dev/full', join(out, 'results.jsonl'));
    const { code, stderr } = await gradlens(['explain', DIGITS, digit('3_0000'), '--method', 'saliency', '--out', out]);
    expect(code).toBe(2);
    expect(stderr).toContain(`cannot write ${out}/results.jsonl: the disk is full (ENOSPC)`);
    expect(stderr).not.toMatch(/\n\s+at .*(\.[jt]s:\d+|node:internal)/);
    expect((await readdir(out)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('exits 2 when another run holds the output folder, and does none of its work', async () => {
    const out = await outDir('held');
    await mkdir(out);
    // This test process stands for the other run: it is alive, on this host.
    await writeFile(join(out, '.gradlens.lock'), JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString() }));
    const { code, stderr } = await gradlens(['explain', DIGITS, digit('3_0000'), '--out', out]);
    expect(code).toBe(2);
    expect(stderr).toContain(`is in use by another gradlens run (pid ${process.pid}`);
    expect(await readdir(out)).toEqual(['.gradlens.lock']);
  });

  it('exits 2 on a usage error: an unknown method, a bad shard, no inputs', async () => {
    expect((await gradlens(['explain', DIGITS, digit('3_0000'), '--method', 'nope'])).code).toBe(2);
    expect((await gradlens(['explain', DIGITS, digit('3_0000'), '--shard', '2/2'])).code).toBe(2);
    expect((await gradlens(['explain', DIGITS, 'no/such/*.png'])).code).toBe(2);
    expect((await gradlens(['explain', DIGITS])).code).toBe(2);
  });
});
