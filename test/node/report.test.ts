import { mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/io/npy.ts';
import { encodePng } from '../../src/node/image.ts';
import { COMPONENTS_SCRIPT, ENHANCE_SCRIPT, InlineBudget, liveMap } from '../../src/node/report-assets.ts';
import { writeReport } from '../../src/node/report.ts';
import { confinedFiles, type ResultRecord } from '../../src/node/results.ts';

let root: string;
let out: string;
let outside: string;
const png = encodePng(new Uint8Array(2 * 2 * 4).fill(90), 2, 2);

/** Every src and href of the page but the widgets' bundle, copied beside it where it is built. */
const references = (html: string) => [...html.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]!).filter((src) => src !== COMPONENTS_SCRIPT);
/** The page without its own scripts (present where the widgets' bundle is built). */
const withoutOwnScripts = (html: string) =>
  html.replace(`<script src="${COMPONENTS_SCRIPT}"></script>`, '').replace(`<script>\n${ENHANCE_SCRIPT}\n</script>`, '');

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gradlens-report-'));
  out = join(root, 'out');
  outside = join(root, 'outside');
  await mkdir(join(out, 'evaluation'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(outside, 'secret.npy'), writeNpy(Float32Array.of(1234.5, 6789.25, 1, 2), [1, 1, 2, 2]));
  await writeFile(join(outside, 'secret.png'), png);
  await symlink(join(outside, 'secret.npy'), join(out, 'linked.npy'));
  await writeFile(join(out, 'ok.npy'), writeNpy(Float32Array.of(0.5, -0.5, 0.25, 0), [1, 1, 2, 2]));
  await writeFile(join(out, 'ok.png'), png);
  await writeFile(join(out, 'ok-input.png'), png);
  const records: ResultRecord[] = [
    {
      input: 'a.png',
      status: 'ok',
      method: 'saliency',
      target: 1,
      score: 0.5,
      files: { npy: '../outside/secret.npy', png: join(outside, 'secret.png'), input: 'linked.npy' },
    },
    {
      input: join(outside, 'secret.png'),
      status: 'ok',
      method: 'saliency',
      target: 2,
      score: 0.25,
      options: { colormap: 'constructor', sign: '"><script>alert(1)</script>' },
      files: { npy: 'ok.npy', png: 'ok.png', input: 'ok-input.png' },
    },
    { input: '<img src=x onerror=alert(1)>', status: 'error', error: { code: '<b>bold</b>', message: '<script>alert(2)</script>' } },
  ];
  // Lines of other shapes, and a torn last line: skipped, never a crash of the report.
  const odd = ['5', 'null', '{"input":1,"status":"ok"}', '{"input":"c","status":"ok","model":"str","files":"abc"}', '{"input":"d","sta'];
  await writeFile(join(out, 'results.jsonl'), [...records.map((r) => JSON.stringify(r)), ...odd].join('\n'));
  const summary = {
    summary: { '<script>alert(3)</script>': { '<img src=y onerror=alert(4)>': { mean: '<b>x</b>', standardError: 1, n: 1 } }, broken: null },
    timing: { '<script>alert(3)</script>': { explainMs: '<i>', metricsMs: 2 } },
    inputs: '<script>alert(5)</script>',
    totalMs: '<svg onload=alert(6)>',
    model: '<svg onload=alert(7)>',
    seed: '<i>seed</i>',
    charts: ['../../x.svg', '"><script>alert(8)</script>.svg', 5, { svg: 1 }],
  };
  await writeFile(join(out, 'evaluation', 'summary.json'), JSON.stringify(summary));
});

describe('gradlens report: confined to its folder', () => {
  it('links and reads only files inside the folder: ../, absolute paths and links out are refused', async () => {
    await writeReport(out);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(references(html).sort()).toEqual(['ok-input.png', 'ok.npy', 'ok.png']);
    expect(html).toContain("not shown (missing, or outside the report's folder): npy, png, input");
  });

  it('confines a record’s files by their real path, links resolved', async () => {
    const record: ResultRecord = {
      input: 'x',
      status: 'ok',
      files: { npy: 'linked.npy', png: 'ok.png', json: 'missing.json', a: '/etc/hostname', b: '..' },
    };
    expect(await confinedFiles(out, record)).toEqual({ png: 'ok.png' });
  });

  it('escapes every text from results.jsonl and summary.json: no markup of theirs reaches the page', async () => {
    const html = await readFile(join(out, 'report.html'), 'utf8');
    for (const markup of ['<script', '<img src=x', '<img src=y', '<svg', '<b>', '<i>']) expect(withoutOwnScripts(html)).not.toContain(markup);
    expect(html).not.toMatch(/data-(colormap|sign)=/);
    expect(html).toContain('&#60;script&#62;alert(2)&#60;/script&#62;');
    expect(html).toContain('0 inputs, seed &#60;i&#62;seed&#60;/i&#62;, 0.0 s');
  });

  it('gives the live heat map only a colormap and sign the widget knows, so hostile values cannot throw in the page', async () => {
    const record: ResultRecord = {
      input: 'b.png',
      status: 'ok',
      method: 'saliency',
      target: 0,
      options: { colormap: 'constructor', sign: '__proto__' },
      files: { npy: 'ok.npy', png: 'ok.png', input: 'ok-input.png' },
    };
    const map = await liveMap(out, record, await confinedFiles(out, record), new InlineBudget());
    expect(map).toBeDefined();
    expect(map!.colormap).toBeUndefined();
    expect(map!.sign).toBeUndefined();
    expect(map!.image).toMatchObject({ width: 2, height: 2 });
    const valid = await liveMap(
      out,
      { ...record, options: { colormap: 'turbo', sign: 'signed' } },
      { npy: 'ok.npy', png: 'ok.png' },
      new InlineBudget(),
    );
    expect(valid).toMatchObject({ colormap: 'turbo', sign: 'signed' });
  });

  it('works served over http from its folder: every link of the page answers', async () => {
    const server = createServer(async (request, response) => {
      const path = resolve(out, `.${decodeURIComponent(new URL(request.url!, 'http://x').pathname)}`);
      const body = path.startsWith(out) ? await readFile(path).catch(() => undefined) : undefined;
      response.writeHead(body ? 200 : 404).end(body);
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      const { port } = server.address() as { port: number };
      const page = await fetch(`http://127.0.0.1:${port}/report.html`);
      expect(page.status).toBe(200);
      for (const reference of references(await page.text())) expect((await fetch(new URL(reference, page.url))).status).toBe(200);
    } finally {
      server.close();
    }
  });
});
