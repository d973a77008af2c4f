import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { extname, join, relative, resolve } from 'node:path';
import { readResults, RESULTS_FILE, writeAtomic, type ResultRecord } from './results.ts';

export const REPORT_FILE = 'report.html';

interface Section {
  /** The folder of the results, relative to the report. */
  folder: string;
  records: ResultRecord[];
}

/**
 * `gradlens report OUT_DIR`: one static page of the results in OUT_DIR and in its direct subfolders (one per run, as
 * the demo writes them). Self-contained: inline CSS, images by relative links, no script. Returns the page's path.
 */
export async function writeReport(outDir: string): Promise<{ path: string; inputs: number }> {
  const folders = ['.', ...(await readdir(outDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort()];
  const sections: Section[] = [];
  for (const folder of folders) {
    if (!existsSync(join(outDir, folder, RESULTS_FILE))) continue;
    sections.push({ folder, records: [...(await readResults(join(outDir, folder))).values()] });
  }
  if (sections.length === 0) throw new Error(`no ${RESULTS_FILE} in ${outDir} or its subfolders: run gradlens explain --out ${outDir} first`);
  const path = join(outDir, REPORT_FILE);
  await writeAtomic(path, page(outDir, sections));
  return { path, inputs: sections.reduce((n, s) => n + s.records.length, 0) };
}

const escape = (text: unknown) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const link = (...parts: string[]) => parts.filter((p) => p !== '.').join('/').split('/').map(encodeURIComponent).join('/');
const fixed = (n: number | undefined, digits = 4) => (n === undefined ? '' : Number(n).toFixed(digits));

function page(outDir: string, sections: Section[]): string {
  const body = sections.map((section) => sectionHtml(outDir, section)).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gradlens report</title>
<style>
  :root { --gl-gap: 12px; color-scheme: light dark; font-family: system-ui, sans-serif; }
  body { margin: 24px; }
  h2 { margin-top: 32px; font-size: 1.2rem; }
  .options { font-family: ui-monospace, monospace; font-size: 0.85rem; opacity: 0.8; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: var(--gl-gap); }
  figure { margin: 0; padding: 8px; border: 1px solid #8884; border-radius: 6px; }
  figure img { width: 76px; height: 76px; object-fit: contain; image-rendering: pixelated; background: #000; }
  figure img.strip { width: 100%; height: 24px; }
  figcaption { font-size: 0.8rem; overflow-wrap: anywhere; }
  .error { color: #c0392b; }
  dl { display: grid; grid-template-columns: auto 1fr; gap: 0 8px; margin: 4px 0 0; }
  dt { opacity: 0.7; }
  dd { margin: 0; font-variant-numeric: tabular-nums; }
</style>
</head>
<body>
<h1>gradlens report</h1>
${body}
</body>
</html>
`;
}

function sectionHtml(outDir: string, { folder, records }: Section): string {
  const first = records.find((r) => r.status === 'ok');
  const failed = records.filter((r) => r.status === 'error').length;
  const title = first ? `${first.method}` : folder;
  const options = first ? JSON.stringify({ ...first.options, seed: first.seed }) : '';
  const model = first?.model ? `model ${first.model.path} (sha256 ${first.model.sha256.slice(0, 12)}…)` : '';
  return `<section>
<h2>${escape(title)}${folder !== '.' ? ` <small>(${escape(folder)}/)</small>` : ''}</h2>
<p class="options">${escape(model)}<br>${escape(options)}<br>${records.length} inputs, ${failed} failed</p>
<div class="grid">
${records.map((record) => card(outDir, folder, record)).join('\n')}
</div>
</section>`;
}

function card(outDir: string, folder: string, record: ResultRecord): string {
  if (record.status === 'error') {
    return `<figure><figcaption>${escape(record.input)}<p class="error">${escape(record.error?.code)}: ${escape(record.error?.message)}</p></figcaption></figure>`;
  }
  const images: string[] = [];
  const source = record.input.split('#')[0]!;
  // The input itself, linked relative to the report, when it is an image the report's folder can reach.
  if (['.png', '.jpg', '.jpeg'].includes(extname(source).toLowerCase()) && existsSync(source)) {
    images.push(`<img src="${link(relative(resolve(outDir), resolve(source)).split('\\').join('/'))}" alt="input ${escape(record.input)}">`);
  }
  const strip = record.input.includes('#');
  if (record.files?.png) images.push(`<img${strip ? ' class="strip"' : ''} src="${link(folder, record.files.png)}" alt="attribution of ${escape(record.input)}">`);
  const rows: [string, string][] = [
    ['target', String(record.target)],
    ['score', fixed(record.score)],
  ];
  if (record.delta !== undefined) rows.push(['delta', fixed(record.delta, 5)]);
  if (record.files?.npy) rows.push(['data', `<a href="${link(folder, record.files.npy)}">.npy</a>`]);
  return `<figure>${images.join('')}<figcaption>${escape(record.input)}<dl>${rows.map(([k, v]) => `<dt>${k}</dt><dd>${k === 'data' ? v : escape(v)}</dd>`).join('')}</dl></figcaption></figure>`;
}
