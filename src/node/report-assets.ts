import { existsSync } from 'node:fs';
import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { COLORMAPS } from '../render/colormaps.ts';
import { SIGNS } from '../render/kernels.ts';
import { readNpy, toFloat32 } from '../io/npy.ts';
import { decodeImage } from './image.ts';
import type { ResultRecord } from './results.ts';

/** The widgets' classic-script bundle as the report's folder gets it (vite.components.config.ts builds it). */
export const COMPONENTS_SCRIPT = 'gradlens-components.js';
const BUNDLE = 'gradlens-components.iife.js';

/** Raw bytes (attribution + image) one input may inline; above it the input keeps only its PNG. */
export const INLINE_LIMIT = 1 << 20;
/** Raw bytes a whole report may inline: the page stays light to open; later inputs keep their PNGs. */
export const REPORT_INLINE_LIMIT = 16 << 20;

/** What a live <gradlens-heatmap> needs, base64 in data- attributes of the card. */
export interface LiveMap {
  attribution: string;
  shape: number[];
  image?: { data: string; width: number; height: number };
  sign?: string;
  colormap?: string;
  label: string;
}

/** The built bundle: beside dist/node/cli.js when built, or in dist/ when run from the sources. */
export function componentsBundle(): string | undefined {
  const candidates = [new URL(`../components/${BUNDLE}`, import.meta.url), new URL(`../../dist/components/${BUNDLE}`, import.meta.url)];
  return candidates.map((url) => url.pathname).find((path) => existsSync(path));
}

export async function copyComponents(bundle: string, outDir: string): Promise<void> {
  await copyFile(bundle, join(outDir, COMPONENTS_SCRIPT));
}

/** A budget of inlined bytes shared by the cards of one report. */
export class InlineBudget {
  used = 0;
  constructor(readonly total = REPORT_INLINE_LIMIT) {}
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

/**
 * The attribution (from its .npy) and the input's thumbnail for a live map, or undefined where the PNG must stay:
 * no .npy, a 1-D (tabular) or HWC attribution the widget does not draw, or over the size limits. `files` are the
 * record's files already confined to its folder: nothing else is read.
 */
export async function liveMap(
  folderPath: string,
  record: ResultRecord,
  files: Record<string, string>,
  budget: InlineBudget,
): Promise<LiveMap | undefined> {
  if (!files.npy || !files.png || record.input.includes('#')) return undefined;
  const options = (record.options ?? {}) as Record<string, unknown>;
  const preprocess = (options.preprocess ?? {}) as Record<string, unknown>;
  if (options.layout === 'hwc' || preprocess.layout === 'hwc') return undefined;
  const array = readNpy(new Uint8Array(await readFile(join(folderPath, files.npy))));
  const shape = array.shape.length > 2 && array.shape[0] === 1 ? array.shape.slice(1) : [...array.shape];
  const flat = shape.length < 2 || shape.length > 3 || shape.slice(0, -1).every((d) => d === 1);
  if (flat) return undefined;
  const values = toFloat32(array);
  let bytes = values.byteLength;
  let image: LiveMap['image'];
  if (files.input) {
    const rgba = decodeImage(new Uint8Array(await readFile(join(folderPath, files.input))), files.input);
    if (bytes + rgba.data.byteLength <= INLINE_LIMIT) {
      image = { data: base64(new Uint8Array(rgba.data.buffer, rgba.data.byteOffset, rgba.data.byteLength)), width: rgba.width, height: rgba.height };
      bytes += rgba.data.byteLength;
    }
  }
  if (bytes > INLINE_LIMIT || budget.used + bytes > budget.total) return undefined;
  budget.used += bytes;
  // Only names the widget knows: anything else in a results file would make it throw in the page.
  const known = <T extends string>(value: unknown, names: readonly T[]) => (names.includes(value as T) ? (value as T) : undefined);
  const sign = known(options.sign, SIGNS);
  const colormap = known(options.colormap, COLORMAPS);
  return {
    attribution: base64(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)),
    shape,
    ...(image ? { image } : {}),
    ...(sign ? { sign } : {}),
    ...(colormap ? { colormap } : {}),
    label: `${record.method ?? 'attribution'} for ${record.target}`,
  };
}

/** The controls over every live map; shown only once one of them has drawn. */
export const CONTROLS_HTML = `<form id="gl-controls" class="controls" hidden>
<label>colormap <select name="colormap"><option value="">as run</option><option>viridis</option><option>turbo</option><option>rdbu-r</option><option>gray</option></select></label>
<label>sign <select name="sign"><option value="">as run</option><option>abs</option><option>positive</option><option>negative</option><option>signed</option></select></label>
<label>opacity <input name="opacity" type="range" min="0" max="1" step="0.05" value="0.5"></label>
</form>`;

/**
 * Progressive enhancement, as a classic inline script (file:// pages block module scripts): with WebGPU, each card
 * with inlined data gets a <gradlens-heatmap>; the PNG is hidden only once the widget has drawn, and comes back if
 * the widget fails (no adapter, lost device). Without WebGPU nothing changes.
 */
export const ENHANCE_SCRIPT = `(() => {
  const figures = [...document.querySelectorAll('figure[data-attribution]')];
  const done = (count) => { document.documentElement.dataset.gradlensLive = String(count); };
  if (!('gpu' in navigator) || !navigator.gpu || !customElements.get('gradlens-heatmap') || figures.length === 0) return done(0);
  const bytes = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const form = document.getElementById('gl-controls');
  const maps = [];
  const live = async (figure) => {
    const d = figure.dataset;
    const map = document.createElement('gradlens-heatmap');
    map.attribution = new Float32Array(bytes(d.attribution).buffer);
    map.shape = d.shape.split(',').map(Number);
    if (d.image) {
      const [width, height] = d.imageSize.split(',').map(Number);
      map.image = { width, height, data: bytes(d.image) };
    }
    if (d.sign) map.sign = d.sign;
    if (d.colormap) map.colormap = d.colormap;
    map.label = d.label;
    map.style.display = 'none';
    let failed = false;
    map.addEventListener('gradlens-error', () => { failed = true; });
    const png = figure.querySelector('img.attribution');
    figure.insertBefore(map, figure.querySelector('figcaption'));
    await map.updateComplete;
    await map.rendered;
    if (failed) { map.remove(); return; }
    map.style.display = '';
    if (png) png.hidden = true;
    figure.classList.add('live');
    maps.push({ map, sign: d.sign || 'abs', colormap: d.colormap || undefined });
    form.hidden = false;
  };
  figures.reduce((previous, figure) => previous.then(() => live(figure)), Promise.resolve())
    .finally(() => done(maps.length));
  form.addEventListener('input', () => {
    for (const { map, sign, colormap } of maps) {
      map.colormap = form.colormap.value || colormap;
      map.sign = form.sign.value || sign;
      map.opacity = Number(form.opacity.value);
    }
  });
})();`;
