import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM } from './chromium.ts';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const cli = join(ROOT, 'dist/node/cli.js');
const DIGITS = ['samples/digits/3_0000.png', 'samples/digits/7_0028.png'];

// chromium.ts's flags: the report is opened from file://, as a user double-clicking it would, so no dev server.
const FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface CardState {
  pngHidden: boolean;
  pngLoaded: boolean;
  widgets: number;
  canvas?: { width: number; height: number; distinctColours: number; pixels: number[] };
}

/** Per card with an attribution: whether its PNG shows, and the live widget's canvas if there is one. */
function cards(page: Page): Promise<CardState[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('figure')]
      .filter((f) => f.querySelector('img.attribution'))
      .map((figure) => {
        const png = figure.querySelector<HTMLImageElement>('img.attribution')!;
        const widgets = figure.querySelectorAll('gradlens-heatmap');
        const canvas = widgets[0]?.shadowRoot?.querySelector('canvas');
        const state: CardState = { pngHidden: png.hidden || png.offsetParent === null, pngLoaded: png.naturalWidth > 0, widgets: widgets.length };
        if (canvas) {
          const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
          const colours = new Set<number>();
          for (let i = 0; i < data.length; i += 4) colours.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
          state.canvas = { width: canvas.width, height: canvas.height, distinctColours: colours.size, pixels: [...data] };
        }
        return state;
      }),
  );
}

describe('gradlens report in headless Chromium', () => {
  let out: string;
  let profile: string;
  let browser: Browser;

  const open = async (webgpu: boolean) => {
    const page = await browser.newPage();
    page.on('pageerror', (error) => console.error('page error:', error));
    // Removed before any script runs, as in a browser without WebGPU.
    if (!webgpu) await page.evaluateOnNewDocument(() => delete (Navigator.prototype as { gpu?: unknown }).gpu);
    await page.goto(pathToFileURL(join(out, 'report.html')).href, { waitUntil: 'load' });
    await page.waitForFunction(() => document.documentElement.dataset.gradlensLive !== undefined, { timeout: 120_000 });
    return page;
  };

  beforeAll(async () => {
    if (!existsSync(cli)) throw new Error('dist/node/cli.js is missing: run `npm run build`');
    // Until `npm run build` builds the widgets' bundle too, build it here: without it the report is static only.
    if (!existsSync(join(ROOT, 'dist/components/gradlens-components.iife.js')))
      await build({ configFile: join(ROOT, 'vite.components.config.ts'), root: ROOT, logLevel: 'error' });
    out = mkdtempSync(join(tmpdir(), 'gradlens-report-'));
    await run('node', [cli, 'explain', 'models/digits.onnx', ...DIGITS, '--method', 'saliency', '--out', out, '--format', 'png,npy'], {
      cwd: ROOT,
      timeout: 100_000,
    });
    await run('node', [cli, 'report', out], { cwd: ROOT, timeout: 30_000 });
    profile = mkdtempSync(join(tmpdir(), 'gradlens-chromium-'));
    browser = await puppeteer.launch({ executablePath: CHROMIUM, args: [...FLAGS, `--user-data-dir=${profile}`] });
  });

  afterAll(async () => {
    await browser?.close();
    for (const dir of [out, profile]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('with WebGPU, draws each input live in a <gradlens-heatmap> and hides its PNG', async () => {
    const page = await open(true);
    const states = await cards(page);
    expect(states).toHaveLength(DIGITS.length);
    for (const state of states) {
      expect(state.widgets).toBe(1);
      expect(state.pngHidden).toBe(true);
      expect([state.canvas!.width, state.canvas!.height]).toEqual([28, 28]);
      // A blank or flat canvas has one colour; a saliency map over a digit has dozens.
      expect(state.canvas!.distinctColours).toBeGreaterThan(20);
    }
    expect(await page.$eval('#gl-controls', (form) => (form as HTMLFormElement).hidden)).toBe(false);
    await page.close();
  });

  it("the report's colormap control redraws the live maps", async () => {
    const page = await open(true);
    const before = (await cards(page))[0]!.canvas!.pixels;
    await page.select('#gl-controls select[name="colormap"]', 'gray');
    await page.waitForFunction(() => [...document.querySelectorAll('gradlens-heatmap')].every((map) => map.getAttribute('colormap') === 'gray'), {
      timeout: 30_000,
    });
    await page.evaluate(() => Promise.all([...document.querySelectorAll('gradlens-heatmap')].map((map) => map.rendered)));
    const after = (await cards(page))[0]!.canvas!.pixels;
    expect(after).toHaveLength(before.length);
    expect(after).not.toEqual(before);
    await page.close();
  });

  it('without WebGPU, keeps the static PNG overlays and adds no widget', async () => {
    const page = await open(false);
    const states = await cards(page);
    expect(states).toHaveLength(DIGITS.length);
    for (const state of states) {
      expect(state.widgets).toBe(0);
      expect(state.pngHidden).toBe(false);
      expect(state.pngLoaded).toBe(true);
    }
    expect(await page.$eval('#gl-controls', (form) => (form as HTMLFormElement).hidden)).toBe(true);
    await page.close();
  });
});
