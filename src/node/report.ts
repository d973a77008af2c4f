import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  COMPONENTS_SCRIPT,
  componentsBundle,
  CONTROLS_HTML,
  copyComponents,
  ENHANCE_SCRIPT,
  InlineBudget,
  liveMap,
  type LiveMap,
} from './report-assets.ts';
import { tokenPeak, tokenShades } from '../render/tokens.ts';
import { confinedFiles, readResults, RESULTS_FILE, writeAtomic, type ResultRecord } from './results.ts';

export const REPORT_FILE = 'report.html';

interface Section {
  /** The folder of the results, relative to the report. */
  folder: string;
  records: ResultRecord[];
  /** Per input, the files it names that are inside the folder: the only ones the page reads or links. */
  files: Map<ResultRecord, Record<string, string>>;
  /** Per input, the data for a live heat map where it could be inlined. */
  live: Map<ResultRecord, LiveMap>;
}

/**
 * `gradlens report OUT_DIR`: one static page of the results in OUT_DIR and in its direct subfolders (one per run, as
 * the demo writes them). Inline CSS, images by relative links to files inside OUT_DIR only (input thumbnails too, which
 * explain writes there), so the folder works from file:// or any static server. Static PNGs first; where the widgets' bundle is built,
 * it is copied beside the page and, in a browser with WebGPU, small inputs are redrawn live by <gradlens-heatmap>
 * from their inlined attribution. Returns the page's path.
 */
export async function writeReport(outDir: string): Promise<{ path: string; inputs: number }> {
  const folders = [
    '.',
    ...(await readdir(outDir, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort(),
  ];
  const sections: Section[] = [];
  const bundle = componentsBundle();
  const budget = new InlineBudget();
  for (const folder of folders) {
    if (!existsSync(join(outDir, folder, RESULTS_FILE))) continue;
    const records = [...(await readResults(join(outDir, folder))).values()];
    const files = new Map<ResultRecord, Record<string, string>>();
    for (const record of records) files.set(record, await confinedFiles(join(outDir, folder), record));
    const live = new Map<ResultRecord, LiveMap>();
    for (const record of bundle ? records.filter((r) => r.status === 'ok') : []) {
      // A broken .npy or image costs the input its live map, not the report.
      const map = await liveMap(join(outDir, folder), record, files.get(record)!, budget).catch(() => undefined);
      if (map) live.set(record, map);
    }
    sections.push({ folder, records, files, live });
  }
  const evaluations = await readEvaluations(outDir, folders);
  if (sections.length === 0 && evaluations.length === 0)
    throw new Error(
      `no ${RESULTS_FILE} or ${EVALUATION_FILE} in ${outDir} or its subfolders: ` +
        `run gradlens explain --out ${outDir} (or gradlens evaluate --out ${outDir}) first`,
    );
  const path = join(outDir, REPORT_FILE);
  const enhanced = bundle !== undefined && sections.some((s) => s.live.size > 0);
  if (enhanced) await copyComponents(bundle, outDir);
  await writeAtomic(path, page(sections, evaluations, enhanced));
  return { path, inputs: sections.reduce((n, s) => n + s.records.length, 0) + evaluations.reduce((n, e) => n + e.run.inputs, 0) };
}

const escape = (text: unknown) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const link = (...parts: string[]) =>
  parts
    .filter((p) => p !== '.')
    .join('/')
    .split('/')
    .map(encodeURIComponent)
    .join('/');
const fixed = (n: number | undefined, digits = 4) => (n === undefined ? '' : Number(n).toFixed(digits));

function page(sections: Section[], evaluations: Evaluation[] = [], enhanced = false): string {
  const body = [...sections.map(sectionHtml), ...evaluations.map(evaluationHtml)].join('\n');
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
  .grid.lines { grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); }
  .grid.lines figure img { width: 320px; height: auto; }
  .grid.charts { grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); }
  figure img.chart { width: 100%; height: auto; background: #fff; image-rendering: auto; }
  .refused { font-size: 0.75rem; opacity: 0.8; }
  figcaption { font-size: 0.8rem; overflow-wrap: anywhere; }
  .error { color: #c0392b; }
  dl { display: grid; grid-template-columns: auto 1fr; gap: 0 8px; margin: 4px 0 0; }
  dt { opacity: 0.7; }
  dd { margin: 0; font-variant-numeric: tabular-nums; }
  table.metrics { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 0.85rem; }
  table.metrics th, table.metrics td { border: 1px solid #8884; padding: 3px 8px; text-align: right; }
  table.metrics th:first-child, table.metrics td:first-child { text-align: left; }
  .charts img { max-width: 100%; }
  .controls { display: flex; flex-wrap: wrap; gap: 16px; font-size: 0.85rem; }
  .controls[hidden] { display: none; }
  figure gradlens-heatmap { display: block; --gradlens-heatmap-size: 100%; font-size: 0.75rem; }
  .tokens { display: flex; flex-wrap: wrap; gap: 4px 2px; line-height: 1.8; margin: 4px 0; }
  .tokens span { padding: 0 4px; border-radius: 3px; overflow-wrap: anywhere; }
  .tokens span:focus-visible { outline: 2px solid #3b528b; }
  .token-legend { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; font-size: 0.75rem; opacity: 0.85; margin: 0; }
  .token-legend .scale { width: 96px; height: 8px; border: 1px solid #8884; background: linear-gradient(to right, rgb(33, 102, 172), transparent, rgb(178, 24, 43)); }
</style>
</head>
<body>
<h1>gradlens report</h1>
${enhanced ? `${CONTROLS_HTML}\n` : ''}${body}
${enhanced ? `<script src="${COMPONENTS_SCRIPT}"></script>\n<script>\n${ENHANCE_SCRIPT}\n</script>\n` : ''}</body>
</html>
`;
}

function sectionHtml({ folder, records, files, live }: Section): string {
  const first = records.find((r) => r.status === 'ok');
  const failed = records.filter((r) => r.status === 'error').length;
  const title = first ? `${first.method}` : folder;
  const options = first ? JSON.stringify({ ...first.options, seed: first.seed }) : '';
  const model = first?.model ? `model ${first.model.path} (sha256 ${String(first.model.sha256).slice(0, 12)}…)` : '';
  return `<section>
<h2>${escape(title)}${folder !== '.' ? ` <small>(${escape(folder)}/)</small>` : ''}</h2>
<p class="options">${escape(model)}<br>${escape(options)}<br>${records.length} inputs, ${failed} failed</p>
<div class="grid${[...files.values()].some((f) => f.svg) ? ' charts' : ''}${records.some((r) => r.outputTarget && 'step' in r.outputTarget) ? ' lines' : ''}">
${records.map((record) => card(folder, record, files.get(record)!, live.get(record))).join('\n')}
</div>
</section>`;
}

function card(folder: string, record: ResultRecord, files: Record<string, string>, live?: LiveMap): string {
  if (record.status === 'error') {
    return `<figure><figcaption>${escape(record.input)}<p class="error">${escape(record.error?.code)}: ${escape(record.error?.message)}</p></figcaption></figure>`;
  }
  const images: string[] = [];
  if (files.input) images.push(`<img src="${link(folder, files.input)}" alt="input ${escape(record.input)}">`);
  if (files.png) images.push(`<img class="attribution" src="${link(folder, files.png)}" alt="attribution of ${escape(record.input)}">`);
  const text = tokenView(record);
  if (text) images.push(text);
  else if (files.svg)
    images.push(`<img class="attribution chart" src="${link(folder, files.svg)}" alt="attribution of ${escape(record.input)} by feature">`);
  const refused = Object.keys(record.files ?? {}).filter((key) => !(key in files));
  const rows: [string, string][] = [
    ['target', record.outputTarget ? JSON.stringify(record.outputTarget) : String(record.target)],
    ['score', fixed(record.score)],
  ];
  if (record.delta !== undefined) rows.push(['delta', fixed(record.delta, 5)]);
  if (files.npy) rows.push(['data', `<a href="${link(folder, files.npy)}">.npy</a>`]);
  if (text && files.svg) rows.push(['data', `<a href="${link(folder, files.svg)}">chart</a>`]);
  const note = refused.length ? `<p class="refused">not shown (missing, or outside the report's folder): ${escape(refused.join(', '))}</p>` : '';
  const details = rows.map(([k, v]) => `<dt>${k}</dt><dd>${k === 'data' ? v : escape(v)}</dd>`).join('');
  const caption = `<figcaption>${escape(record.input)}<dl>${details}</dl>${note}</figcaption>`;
  return `<figure${live ? liveAttributes(live) : ''}>${images.join('')}${caption}</figure>`;
}

/** Signs' colours, as the widgets' defaults and the bar charts: ColorBrewer red towards the target, blue against. */
const [POSITIVE_RGB, NEGATIVE_RGB] = ['178, 24, 43', '33, 102, 172'];

/**
 * A token input's text, each token shaded by its attribution on one symmetric scale (as <gradlens-text> draws it),
 * each focusable with its value in its accessible name, and a legend. Nothing where the record has no valid tokens.
 */
function tokenView(record: ResultRecord): string | undefined {
  const tokens = record.tokens;
  const valid =
    tokens &&
    Array.isArray(tokens.text) &&
    Array.isArray(tokens.values) &&
    tokens.text.length === tokens.values.length &&
    tokens.values.every((v) => typeof v === 'number');
  if (!valid) return undefined;
  const shades = tokenShades(tokens.text.map(String), tokens.values);
  const signed = (v: number) => (v > 0 ? `+${v.toPrecision(3)}` : v.toPrecision(3)).replace('-', '−');
  const spans = shades.map((shade) => {
    const rgb = shade.sign > 0 ? POSITIVE_RGB : NEGATIVE_RGB;
    const label = `${shade.token}: ${signed(shade.value)}`;
    const ink = shade.strength > 0.55 ? ' color: #fff;' : '';
    return `<span role="listitem" tabindex="0" title="${escape(label)}" aria-label="${escape(label)}" style="background: rgba(${rgb}, ${shade.strength.toFixed(3)});${ink}">${escape(shade.token)}</span>`;
  });
  const peak = tokenPeak(tokens.values);
  const what = `${escape(tokens.reduce)} over ${escape(tokens.layer)}`;
  return `<p class="tokens" role="list" aria-label="tokens shaded by attribution towards class ${escape(record.target)}">${spans.join(' ')}</p>
<p class="token-legend"><span>${signed(-peak)}</span><span class="scale" role="img" aria-label="colour scale from ${signed(-peak)} (against) to ${signed(peak)} (towards)"></span><span>${signed(peak)}</span> <span>← against · towards → (${what})</span></p>`;
}

/** The card's data for the enhancement script (ENHANCE_SCRIPT reads these names). */
function liveAttributes(live: LiveMap): string {
  const attributes: Record<string, string | undefined> = {
    'data-attribution': live.attribution,
    'data-shape': live.shape.join(','),
    'data-image': live.image?.data,
    'data-image-size': live.image ? `${live.image.width},${live.image.height}` : undefined,
    'data-sign': live.sign,
    'data-colormap': live.colormap,
    'data-label': live.label,
  };
  return Object.entries(attributes)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => ` ${name}="${escape(value)}"`)
    .join('');
}

// The output of gradlens evaluate: summary.json (the table) and the SVG charts it lists.
const EVALUATION_FILE = 'summary.json';

interface EvaluationRun {
  model?: string;
  inputs: number;
  seed?: number;
  totalMs: number;
  timing: Record<string, { explainMs: number; metricsMs: number }>;
  summary: Record<string, Record<string, { mean: number; standardError: number; n: number }>>;
  charts?: string[];
}

interface Evaluation {
  folder: string;
  run: EvaluationRun;
}

async function readEvaluations(outDir: string, folders: string[]): Promise<Evaluation[]> {
  const evaluations: Evaluation[] = [];
  for (const folder of folders) {
    const file = join(outDir, folder, EVALUATION_FILE);
    if (!existsSync(file)) continue;
    const run = JSON.parse(await readFile(file, 'utf8')) as EvaluationRun;
    // Another tool's summary.json is not an evaluation: it needs the per-method table and timings.
    const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
    if (!isObject(run) || !isObject(run.summary) || !isObject(run.timing)) continue;
    const summary = Object.fromEntries(Object.entries(run.summary).filter(([, metrics]) => isObject(metrics)));
    // Every field as the type it should be: a summary.json is data from elsewhere, not trusted markup or paths.
    const charts = (Array.isArray(run.charts) ? run.charts : []).filter(
      (chart): chart is string =>
        typeof chart === 'string' && chart.endsWith('.svg') && !chart.includes('/') && existsSync(join(outDir, folder, chart)),
    );
    evaluations.push({ folder, run: { ...run, summary, inputs: Number(run.inputs) || 0, totalMs: Number(run.totalMs) || 0, charts } });
  }
  return evaluations;
}

function evaluationHtml({ folder, run }: Evaluation): string {
  const methods = Object.keys(run.summary);
  const metrics = [...new Set(methods.flatMap((method) => Object.keys(run.summary[method]!)))];
  const cell = (method: string, metric: string) => {
    const value = run.summary[method]![metric];
    return value ? `${fixed(value.mean, 3)} ± ${fixed(value.standardError, 3)}` : '–';
  };
  const rows = methods.map(
    (method) =>
      `<tr><td>${escape(method)}</td>${metrics.map((metric) => `<td>${escape(cell(method, metric))}</td>`).join('')}<td>${fixed(run.timing[method]?.explainMs, 0)}</td><td>${fixed(run.timing[method]?.metricsMs, 0)}</td></tr>`,
  );
  const charts = (run.charts ?? []).map((chart) => `<img src="${link(folder, chart)}" alt="${escape(chart.replace(/\.svg$/, ''))} chart">`);
  return `<section class="evaluation">
<h2>evaluation${folder !== '.' ? ` <small>(${escape(folder)}/)</small>` : ''}</h2>
<p class="options">${run.model ? `model ${escape(run.model)}<br>` : ''}${escape(run.inputs)} inputs, seed ${escape(run.seed ?? 0)}, ${(run.totalMs / 1000).toFixed(1)} s in all; mean ± standard error per method and metric</p>
<table class="metrics">
<thead><tr><th>method</th>${metrics.map((metric) => `<th>${escape(metric)}</th>`).join('')}<th>explain ms</th><th>metrics ms</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
<div class="charts">
${charts.join('\n')}
</div>
</section>`;
}
