import { mkdirSync } from 'node:fs';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowserRig, type BrowserRig } from './chromium.ts';

// How the widgets read: scales, legends, headers, themes and their empty and error states. Every state is a screenshot
// in test-output/widgets/ (<widget>-<light|dark|error|empty>.png) to look at.
const OUTPUT = new URL('../../test-output/widgets/', import.meta.url).pathname;
const DIGITS = '/models/digits.onnx';
const THREE = '/samples/digits/3_0000.png';
const DIGIT_NAMES = 'zero,one,two,three,four,five,six,seven,eight,nine';
const DARK_FG = 'rgb(230, 237, 243)'; // styles.ts's dark --_fg
const LIGHT_FG = 'rgb(27, 31, 36)';

type Widget = HTMLElement & { updateComplete: Promise<boolean>; settled?: Promise<void> };
type Heatmap = Widget & { rendered: Promise<void>; drawnRange?: readonly [number, number] };

describe('the widgets read well, in light and dark, empty and failed', () => {
  let rig: BrowserRig;
  let page: Page;

  const mount = (tag: string, attributes: Record<string, string>, properties: Record<string, unknown> = {}) =>
    page.evaluate((t, a, p) => window.widgetTest.mount(t, a, p), tag, attributes, properties);
  const until = (kind: 'result' | 'error', count = 1) => page.evaluate((k, c) => window.widgetTest.until(k, c, 120_000), kind, count);
  const text = () => page.evaluate(() => window.widgetTest.text());
  /** Waits for the widget and every heat map in it to finish drawing, then screenshots it. */
  const shot = async (name: string) => {
    await page.evaluate(async () => {
      const widget = window.widgetTest.widget() as Widget;
      await widget.settled;
      await widget.updateComplete;
      const maps = widget.localName === 'gradlens-heatmap' ? [widget] : [...widget.shadowRoot!.querySelectorAll('gradlens-heatmap')];
      for (const map of maps as Heatmap[]) await map.updateComplete.then(() => map.rendered).then(() => map.updateComplete);
    });
    await (await page.$('#stage > *'))!.screenshot({ path: `${OUTPUT}${name}.png` });
  };
  /** Inside the widget's heat maps (or the heat map itself): the legend's text and the text colour. */
  const heatmaps = () =>
    page.evaluate(() => {
      const widget = window.widgetTest.widget();
      const maps = widget.localName === 'gradlens-heatmap' ? [widget] : [...widget.shadowRoot!.querySelectorAll('gradlens-heatmap')];
      return (maps as Heatmap[]).map((map) => ({
        legend: (map.shadowRoot!.querySelector('[part=legend]') as HTMLElement | null)?.innerText.replace(/\s+/g, ' ').trim() ?? null,
        empty: Boolean(map.shadowRoot!.querySelector('[part=empty]')),
        colour: getComputedStyle(map.shadowRoot!.querySelector('figure')!).color,
        range: map.drawnRange && [...map.drawnRange],
        label: map.getAttribute('label'),
      }));
    });

  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    rig = await startBrowserRig();
    page = await rig.browser.newPage();
    await page.setViewport({ width: 900, height: 700 });
    await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'light' }]);
    page.on('pageerror', (error) => console.error('page error:', error));
    await page.goto(rig.url('test/browser/widgets-page/index.html'));
    await page.waitForFunction(() => window.gradlensReady === true, { timeout: 60_000 });
  });

  afterAll(async () => rig?.close());

  describe('gradlens-heatmap', () => {
    /** A heat map of 28 × 28 waves (built in the page: typed arrays do not cross page.evaluate). */
    const mountWaves = (attributes: Record<string, string>, length = 28 * 28) =>
      page.evaluate(
        (a, n) => {
          window.widgetTest.mount('gradlens-heatmap', a);
          const attribution = Float32Array.from({ length: n }, (_, i) => Math.sin(i / 7) * (i % 28) * 0.01);
          Object.assign(window.widgetTest.widget(), { shape: [28, 28], attribution });
        },
        attributes,
        length,
      );

    it('empty: a placeholder and no legend (no scale for values that do not exist)', async () => {
      await mount('gradlens-heatmap', {});
      await shot('heatmap-empty');
      expect(await heatmaps()).toEqual([expect.objectContaining({ legend: null, empty: true })]);
      expect(await text()).toContain('no attribution yet');
    });

    it('light and dark: a legend titled with the sign and the units', async () => {
      await mountWaves({ sign: 'signed', units: 'logit', label: 'Waves' });
      await shot('heatmap-light');
      const [light] = await heatmaps();
      expect(light!.legend).toMatch(/^attribution \(logit\) −\d\.\d+ 0 \d\.\d+$/);
      expect(light!.colour).toBe(LIGHT_FG);
      await mountWaves({ sign: 'abs', units: 'logit', theme: 'dark' });
      await shot('heatmap-dark');
      const [dark] = await heatmaps();
      expect(dark!.legend).toMatch(/^\|attribution\| \(logit\) 0 \d\.\d+ \d\.\d+$/);
      expect(dark!.colour).toBe(DARK_FG);
    });

    it('error: the reason, and no legend', async () => {
      await mountWaves({}, 10);
      await shot('heatmap-error');
      expect(await heatmaps()).toEqual([expect.objectContaining({ legend: null, empty: false })]);
      expect(await text()).toMatch(/shape|size|element/i);
    });
  });

  describe('gradlens-explainer', () => {
    it('light: the legend names the units; the predictions use the class names given', async () => {
      await mount('gradlens-explainer', { model: DIGITS, src: THREE, method: 'saliency', labels: DIGIT_NAMES });
      expect((await until('result')).error).toBeUndefined();
      await shot('explainer-light');
      const [map] = await heatmaps();
      expect(map!.legend).toMatch(/^\|attribution\| \(logit\)/);
      expect(map!.label).toBe('saliency for three');
      expect(await text()).toMatch(/three\s*\d+\.\d %/);
    });

    it('dark: theme="dark" reaches the heat map inside', async () => {
      await mount('gradlens-explainer', { model: DIGITS, src: THREE, method: 'saliency', theme: 'dark' });
      expect((await until('result')).error).toBeUndefined();
      await shot('explainer-dark');
      expect((await heatmaps())[0]!.colour).toBe(DARK_FG);
    });

    it('empty and error states', async () => {
      await mount('gradlens-explainer', { model: DIGITS });
      await page.waitForFunction(() => window.widgetTest.record().events.includes('gradlens-load'), { timeout: 30_000 });
      await shot('explainer-empty');
      expect(await text()).toContain('Set an input to explain.');
      await mount('gradlens-explainer', { model: 'http://127.0.0.1:9/missing.onnx', src: THREE });
      expect((await until('error')).error?.code).toBe('BAD_MODEL');
      await shot('explainer-error');
    });
  });

  describe('gradlens-compare', () => {
    it('light: one colour scale shared by every map by default, each captioned with the class name', async () => {
      await mount('gradlens-compare', { model: DIGITS, src: THREE, methods: 'saliency gradient-x-input', labels: DIGIT_NAMES });
      expect((await until('result', 2)).error).toBeUndefined();
      await shot('compare-light');
      const maps = await heatmaps();
      expect(maps).toHaveLength(2);
      expect(maps[0]!.range).toEqual(maps[1]!.range);
      expect(maps.map((m) => m.label)).toEqual(['saliency for three', 'gradient-x-input for three']);
      expect(maps[0]!.legend).toMatch(/^\|attribution\| \(logit\)/);
      expect(await text()).toContain('One colour scale for every map');
    });

    it('scale="per-tile" gives each map its own scale', async () => {
      await page.evaluate(() => window.widgetTest.widget().setAttribute('scale', 'per-tile'));
      await shot('compare-per-tile');
      const maps = await heatmaps();
      expect(maps[0]!.range).not.toEqual(maps[1]!.range);
      expect(await text()).not.toContain('One colour scale for every map');
    });

    it('dark: theme="dark" reaches every heat map inside', async () => {
      await mount('gradlens-compare', { model: DIGITS, src: THREE, methods: 'saliency gradient-x-input', theme: 'dark' });
      expect((await until('result', 2)).error).toBeUndefined();
      await shot('compare-dark');
      expect((await heatmaps()).map((m) => m.colour)).toEqual([DARK_FG, DARK_FG]);
    });

    it('empty and error states', async () => {
      await mount('gradlens-compare', { model: DIGITS, methods: 'saliency' });
      await page.waitForFunction(() => window.widgetTest.record().events.includes('gradlens-load'), { timeout: 30_000 });
      await shot('compare-empty');
      expect(await heatmaps()).toEqual([]);
      expect(await text()).toContain('Set an input to compare the methods on.');
      await mount('gradlens-compare', { model: '/samples/tabular.csv', src: THREE });
      expect((await until('error')).error?.code).toBe('CORRUPT_MODEL');
      await shot('compare-error');
    });
  });

  describe('gradlens-features', () => {
    const names = ['radius', 'texture', 'perimeter', 'area'];
    const attribution = [0.8, -0.3, 0.1, -0.05];

    it('light and dark: column headers, and a key for the two signs', async () => {
      await mount('gradlens-features', { labels: 'malignant,benign' }, { featureNames: names, values: [14.1, 19.3, 92, 654], attribution });
      await shot('features-light');
      const headers = await page.evaluate(() =>
        [...window.widgetTest.widget().shadowRoot!.querySelectorAll('.header > span')].map((s) => s.textContent!.trim()),
      );
      expect(headers.slice(0, 3)).toEqual(['Feature', 'Value', 'Contribution to the prediction']);
      expect(await text()).toMatch(/pushes towards the prediction\s*pushes away from it/);
      await mount('gradlens-features', { theme: 'dark' }, { featureNames: names, values: [14.1, 19.3, 92, 654], attribution });
      await shot('features-dark');
      expect(await page.evaluate(() => getComputedStyle(window.widgetTest.widget()).color)).toBe(DARK_FG);
    });

    it('empty and error states', async () => {
      await mount('gradlens-features', { model: '/models/tabular.onnx' });
      await page.waitForFunction(() => window.widgetTest.record().events.includes('gradlens-load'), { timeout: 30_000 });
      await shot('features-empty');
      expect(await text()).not.toContain('Feature');
      await mount('gradlens-features', { model: '/models/tabular.onnx' }, { values: [1, 2, 3] });
      expect((await until('error')).error?.code).toBe('BAD_INPUT');
      await shot('features-error');
    });
  });

  describe('gradlens-curve', () => {
    const curves = [
      { label: 'integrated-gradients', fractions: [0, 0.25, 0.5, 0.75, 1], scores: [0.98, 0.4, 0.15, 0.05, 0.02] },
      { label: 'saliency', fractions: [0, 0.25, 0.5, 0.75, 1], scores: [0.98, 0.7, 0.45, 0.2, 0.02] },
    ];

    it('light, dark, empty and error', async () => {
      await mount('gradlens-curve', { label: 'Deletion of a 3' }, { curves });
      await shot('curve-light');
      await mount('gradlens-curve', { label: 'Deletion of a 3', theme: 'dark' }, { curves });
      await shot('curve-dark');
      expect(await page.evaluate(() => getComputedStyle(window.widgetTest.widget()).color)).toBe(DARK_FG);
      await mount('gradlens-curve', {});
      await shot('curve-empty');
      await page.evaluate(() => {
        window.widgetTest.mount('gradlens-curve', { model: 'http://127.0.0.1:9/missing.onnx' });
        Object.assign(window.widgetTest.widget(), { input: new Float32Array(784), attribution: new Float32Array(784) });
      });
      expect((await until('error')).error?.code).toBe('BAD_MODEL');
      await shot('curve-error');
    });
  });
});
