import { mkdirSync, readFileSync } from 'node:fs';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExplainController, releaseLens } from '../../components/explain-controller.ts';
import { runOptions } from '../../components/method-options.ts';
import { loadImage } from '../../src/node/image.ts';
import { startBrowserRig, type BrowserRig } from './chromium.ts';

const OUTPUT = new URL('../../test-output/', import.meta.url).pathname;
const DIGITS = '/models/digits.onnx';
const SEVEN = '/samples/digits/7_0028.png';

interface Recorded {
  events: string[];
  error?: { code: string; message: string };
  attribution?: number[];
  target?: number;
  results: number;
}

/** The events without repeats: load, progress, result rather than load, progress × n, result. */
const phases = (events: string[]) => events.filter((e, i) => e !== events[i - 1]);

describe('the widgets in headless Chromium on SwiftShader', () => {
  let rig: BrowserRig;
  let page: Page;

  const mount = (tag: string, attributes: Record<string, string>) => page.evaluate((t, a) => window.widgetTest.mount(t, a), tag, attributes);
  const until = (kind: 'result' | 'error', count = 1) => page.evaluate((k, c) => window.widgetTest.until(k, c), kind, count) as Promise<Recorded>;
  const text = () => page.evaluate(() => window.widgetTest.text());
  const shot = async (name: string) => {
    const element = await page.$('#stage > *');
    await element!.screenshot({ path: `${OUTPUT}${name}.png` });
  };

  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    rig = await startBrowserRig();
    page = await rig.browser.newPage();
    await page.setViewport({ width: 900, height: 700 });
    page.on('pageerror', (error) => console.error('page error:', error));
    await page.goto(rig.url('test/browser/widgets-page/index.html'));
    await page.waitForFunction(() => window.gradlensReady === true, { timeout: 60_000 });
  });

  afterAll(async () => rig?.close());

  it('loads a model without opening a WebGPU device', async () => {
    await mount('gradlens-explainer', { model: DIGITS });
    await page.waitForFunction(() => window.widgetTest.record().events.includes('gradlens-load'), { timeout: 30_000 });
    expect(await page.evaluate(() => window.gradlensAdapterRequests)).toBe(0);
    expect(await text()).toContain('Set an input to explain.');
  });

  it('explainer: runs saliency on a digit and emits load, progress, result in that order', async () => {
    await mount('gradlens-explainer', { model: DIGITS, src: SEVEN, method: 'saliency', labels: '0,1,2,3,4,5,6,7,8,9' });
    const record = await until('result');
    expect(record.error).toBeUndefined();
    expect(phases(record.events)).toEqual(['gradlens-load', 'gradlens-progress', 'gradlens-result']);
    expect(record.attribution).toHaveLength(28 * 28);
    expect(record.target).toBe(7);
    expect(await page.evaluate(() => window.gradlensAdapterRequests)).toBe(1);
  });

  it('explainer: its overlay is a real heat map (many viridis colours over the digit) with a text summary', async () => {
    const stats = await page.evaluate(() => window.widgetTest.canvasStats());
    await shot('explainer-saliency');
    expect([stats.width, stats.height]).toEqual([28, 28]);
    // A blank or single-colour canvas has 1 colour and no spread; a map over the digit has dozens.
    expect(stats.distinctColours).toBeGreaterThan(40);
    expect(stats.lumaStdev).toBeGreaterThan(20);
    // Viridis's middle and top (teal, green, yellow) have more green than red; the gray digit alone never does.
    expect(stats.greenOverRed).toBeGreaterThan(0.05);
    expect(stats.label).toMatch(/^saliency for 7: (centre|upper|middle|lower) .* \d+ %/);
  });

  it('explainer: explains another class when its prediction is clicked', async () => {
    const second = await page.evaluate(() => {
      const buttons = window.widgetTest.widget().shadowRoot!.querySelectorAll<HTMLButtonElement>('[part=predictions] button');
      buttons[1]!.click();
      return Number(buttons[1]!.dataset.class);
    });
    const record = await until('result', 2);
    expect(record.target).toBe(second);
    expect(second).not.toBe(7);
  });

  it('explainer: shows a readable error for a bad model URL, and recovers when given a good one', async () => {
    // Port 9 (discard) has no server: the fetch itself fails. (Vite's dev server answers a missing file with its page.)
    await mount('gradlens-explainer', { model: 'http://127.0.0.1:9/missing.onnx', src: SEVEN });
    const record = await until('error');
    expect(record.error?.code).toBe('BAD_MODEL');
    expect(record.error?.message).toMatch(/could not fetch the model at http:\/\/127\.0\.0\.1:9\/missing\.onnx/);
    expect(await text()).toMatch(/BAD_MODEL: could not fetch the model/);
    await shot('explainer-bad-model');
    await page.evaluate((url) => window.widgetTest.widget().setAttribute('model', url), DIGITS);
    await page.evaluate(() => delete window.widgetTest.record().error);
    const after = await until('result');
    expect(after.error).toBeUndefined();
    expect(after.results).toBe(1);
  });

  it('explainer: shows a readable error for a file that is not an ONNX model', async () => {
    await mount('gradlens-explainer', { model: '/samples/tabular.csv', src: SEVEN });
    const record = await until('error');
    expect(record.error?.code).toBe('CORRUPT_MODEL');
    expect(await text()).toContain('CORRUPT_MODEL');
  });

  it('explainer: shows a readable error for a corrupt image', async () => {
    await mount('gradlens-explainer', { model: DIGITS, src: '/models/README.md' });
    const record = await until('error');
    expect(record.error?.code).toBe('BAD_INPUT');
    expect(await text()).toMatch(/BAD_INPUT: .*README\.md: cannot read the image/);
    expect(record.events).not.toContain('gradlens-result');
  });

  it('explainer: the cancel button stops a run between chunks; no result follows', async () => {
    await mount('gradlens-explainer', { model: DIGITS, src: SEVEN, method: 'integrated-gradients', steps: '256', 'chunk-size': '8' });
    await page.waitForFunction(() => window.widgetTest.record().events.includes('gradlens-progress'), { timeout: 60_000 });
    expect(await page.evaluate(() => window.widgetTest.click('[part=progress] .cancel'))).toBe(true);
    await page.evaluate(() => (window.widgetTest.widget() as unknown as { settled: Promise<void> }).settled);
    const record = await page.evaluate(() => window.widgetTest.record());
    const progress = record.events.filter((e) => e === 'gradlens-progress').length;
    expect(record.events).not.toContain('gradlens-result');
    expect(progress).toBeLessThan(256 / 8);
    expect(await page.evaluate(() => window.widgetTest.widget().shadowRoot!.querySelector('[part=progress]'))).toBeNull();
  });

  it('explainer: a new input aborts the run in flight; only the new input is explained', async () => {
    await mount('gradlens-explainer', { model: DIGITS, src: SEVEN, method: 'integrated-gradients', steps: '128', 'chunk-size': '8' });
    await page.waitForFunction(() => window.widgetTest.record().events.includes('gradlens-progress'), { timeout: 60_000 });
    await page.evaluate(() => {
      const widget = window.widgetTest.widget();
      widget.setAttribute('method', 'saliency');
      widget.setAttribute('src', '/samples/digits/3_0000.png');
    });
    const record = await until('result');
    await page.evaluate(() => (window.widgetTest.widget() as unknown as { settled: Promise<void> }).settled);
    expect(record.results).toBe(1);
    expect(record.target).toBe(3);
  });

  it('heatmap: draws a given attribution over a given image, with a legend and a summary', async () => {
    await page.evaluate(() => {
      window.widgetTest.mount('gradlens-heatmap', { sign: 'signed', label: 'Spot' });
      // 30 × 15: a 3 × 3 grid of 10 × 5 cells. The lower-right cell holds 1s, the rest ±0.1 (negative on the left).
      const [width, height] = [30, 15];
      const attribution = Float32Array.from({ length: width * height }, (_, i) => {
        const [x, y] = [i % width, Math.floor(i / width)];
        return x >= 20 && y >= 10 ? 1 : x < 15 ? -0.1 : 0.1;
      });
      const data = new Uint8ClampedArray(4 * width * height).fill(128);
      Object.assign(window.widgetTest.widget(), { shape: [height, width], attribution, image: { width, height, data } });
    });
    const stats = await page.evaluate(() => window.widgetTest.canvasStats());
    await shot('heatmap-signed-spot');
    expect([stats.width, stats.height]).toEqual([30, 15]);
    // Three values (−0.1, 0.1, 1) over one gray: three colours, far apart.
    expect(stats.distinctColours).toBe(3);
    expect(stats.lumaStdev).toBeGreaterThan(10);
    // |mass|: the spot 50 × 1 of 50 + 8 × 50 × 0.1 = 90, so 56 %; each other cell 5 / 90 = 6 %.
    expect(stats.label).toMatch(/^Spot: lower right 56 %, \w+ \w+ 6 %$/);
    // The legend's scale: the signed range is symmetric, [−s, s] with s the 99th percentile of |map|, here 1.
    expect(await text()).toMatch(/−1\s*0\s*1/);
  });

  it('features: explains a tabular row as signed bars sorted by size, with names and values', async () => {
    const header = readFileSync(new URL('../../samples/tabular.csv', import.meta.url), 'utf8').split('\n');
    const names = header[0]!.split(',').slice(0, -1);
    const row = header[1]!.split(',').slice(0, -1).map(Number);
    await page.evaluate(
      (n, r) => window.widgetTest.mount('gradlens-features', { model: '/models/tabular.onnx', labels: 'malignant,benign', method: 'gradient-x-input', 'max-features': '8' }, { featureNames: n, values: r }),
      names,
      row,
    );
    const record = await until('result');
    expect(record.error).toBeUndefined();
    expect(phases(record.events)).toEqual(['gradlens-load', 'gradlens-progress', 'gradlens-result']);
    const bars = await page.evaluate(() =>
      [...window.widgetTest.widget().shadowRoot!.querySelectorAll('.row')].map((li) => ({
        name: li.querySelector('.name')!.textContent,
        contribution: Number(li.querySelector('.contribution')!.textContent!.replace('−', '-').replace('+', '')),
      })),
    );
    await shot('features-gradient-x-input');
    expect(bars).toHaveLength(8);
    const sizes = bars.map((b) => Math.abs(b.contribution));
    expect(sizes).toEqual([...sizes].sort((a, b) => b - a));
    // Gradient × input: each shown contribution is that feature's attribution (3 significant digits).
    for (const bar of bars) {
      const attribution = record.attribution![names.indexOf(bar.name!)]!;
      expect(bar.contribution).toBeCloseTo(attribution, Math.max(0, 2 - Math.floor(Math.log10(Math.abs(attribution)))));
    }
    expect(await text()).toMatch(/malignant\s*\d+\.\d %/);
  });

  it('compare: runs each method in turn on one model and shows one heat map each', async () => {
    await mount('gradlens-compare', { model: DIGITS, src: '/samples/digits/3_0000.png', methods: 'saliency gradient-x-input' });
    const record = await until('result', 2);
    expect(record.error).toBeUndefined();
    expect(record.events.filter((e) => e === 'gradlens-load')).toHaveLength(1);
    expect(record.events.filter((e) => e === 'gradlens-result')).toHaveLength(2);
    await page.evaluate(() => (window.widgetTest.widget() as unknown as { settled: Promise<void> }).settled);
    const maps = await page.evaluate(() => window.widgetTest.widget().shadowRoot!.querySelectorAll('gradlens-heatmap').length);
    expect(maps).toBe(2);
    await page.evaluate(() => window.widgetTest.canvasStats());
    await shot('compare-saliency-gradient-x-input');
  });

  it('gives the same SmoothGrad attribution in Chromium as the same call in Node with the same seed', async () => {
    await mount('gradlens-explainer', { model: DIGITS, src: SEVEN, method: 'smoothgrad', samples: '4', noise: '0.15', seed: '1234' });
    const fromBrowser = await until('result');
    expect(fromBrowser.error).toBeUndefined();

    const controller = new ExplainController();
    try {
      await controller.load(readFileSync(new URL('../../models/digits.onnx', import.meta.url)));
      const { data } = await loadImage(new URL('../../samples/digits/7_0028.png', import.meta.url).pathname, { channels: 1, size: [28, 28] });
      const options = runOptions({ method: 'smoothgrad', samples: 4, noise: 0.15, seed: 1234, steps: 16, baseline: 'zeros' }, data, [1, 28, 28]);
      const fromNode = await controller.run(data, options);
      expect(controller.status).toBe('done');
      const node = Array.from(fromNode!.attribution);
      const scale = Math.max(...node.map(Math.abs));
      const worst = Math.max(...node.map((v, i) => Math.abs(v - fromBrowser.attribution![i]!)));
      expect(worst / scale).toBeLessThan(1e-4);
      expect(fromNode!.target[0]).toBe(fromBrowser.target);
    } finally {
      await releaseLens();
    }
  });
});
