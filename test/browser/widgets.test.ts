import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'puppeteer-core';
import { build, preview } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExplainController, releaseLens } from '../../components/explain-controller.ts';
import { runOptions } from '../../components/method-options.ts';
import { loadImage } from '../../src/node/image.ts';
import { startBrowserRig, type BrowserRig } from './chromium.ts';

const OUTPUT = new URL('../../test-output/', import.meta.url).pathname;
const ROOT = new URL('../../', import.meta.url).pathname;
const DIGITS = '/models/digits.onnx';
const SEVEN = '/samples/digits/7_0028.png';

interface Recorded {
  events: string[];
  error?: { code: string; message: string };
  attribution?: number[];
  target?: number;
  used?: Record<string, unknown>;
  results: number;
  curves?: { label: string; fractions: number[]; scores: number[]; auc: number }[];
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

  it("explainer: LRP's options get inputs generated from its specs, and a changed composite is the one used", async () => {
    await mount('gradlens-explainer', { model: DIGITS, src: SEVEN, method: 'lrp' });
    const first = await until('result');
    expect(first.error).toBeUndefined();
    const inputs = await page.evaluate(() =>
      Array.from(window.widgetTest.widget().shadowRoot!.querySelectorAll<HTMLElement>('[part=option]')).map((label) => [
        label.dataset.option,
        label.querySelector('select, input')!.getAttribute('type') ?? 'select',
        label.title,
      ]),
    );
    const kinds = Object.fromEntries(inputs.map(([key, kind]) => [key, kind]));
    expect(kinds).toMatchObject({ composite: 'select', epsilon: 'number', gamma: 'number', zeroBias: 'checkbox' });
    expect(inputs.every(([, , doc]) => doc!.length > 0)).toBe(true);
    const chosen = await page.evaluate((before) => {
      const select = window.widgetTest.widget().shadowRoot!.querySelector<HTMLSelectElement>('[data-option=composite] select')!;
      const other = Array.from(select.options).find((o) => o.value !== before && o.value !== '')!.value;
      select.value = other;
      select.dispatchEvent(new Event('change'));
      return other;
    }, first.used?.composite as string);
    const second = await until('result', 2);
    expect(second.error).toBeUndefined();
    expect(second.used?.composite).toBe(chosen);
    expect(chosen).not.toBe(first.used?.composite);
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
      (n, r) =>
        window.widgetTest.mount(
          'gradlens-features',
          { model: '/models/tabular.onnx', labels: 'malignant,benign', method: 'gradient-x-input', 'max-features': '8' },
          { featureNames: n, values: r },
        ),
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

  it('curve: draws given series as SVG paths over its frame, AUC in the legend, with a keyboard readout', async () => {
    await page.evaluate(() =>
      window.widgetTest.mount(
        'gradlens-curve',
        { label: 'Deletion' },
        {
          curves: [
            { label: 'ig', fractions: [0, 0.5, 1], scores: [1, 0.25, 0] },
            { label: 'saliency', fractions: [0, 0.5, 1], scores: [0.2, 0.6, 0.9], auc: 0.5 },
          ],
        },
      ),
    );
    const drawn = await page.evaluate(async () => {
      const widget = window.widgetTest.widget() as HTMLElement & { updateComplete: Promise<boolean> };
      await widget.updateComplete;
      const root = widget.shadowRoot!;
      const frame = root.querySelector('rect.frame')!;
      return {
        frame: ['x', 'y', 'width', 'height'].map((a) => Number(frame.getAttribute(a))),
        paths: [...root.querySelectorAll('path[part=line]')].map((p) => p.getAttribute('d')!),
        label: root.querySelector('svg')!.getAttribute('aria-label'),
        role: root.querySelector('svg')!.getAttribute('role'),
      };
    });
    const [x, y, width, height] = drawn.frame as [number, number, number, number];
    const points = (d: string) => [...d.matchAll(/[ML]([\d.]+) ([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    // Scores within [0, 1] are drawn on a [0, 1] axis: fraction f at x + f·width, score s at y + (1 − s)·height.
    const expected = (scores: number[]) => [0, 0.5, 1].map((f, k) => [x + f * width, y + (1 - scores[k]!) * height]);
    for (const [path, scores] of [
      [drawn.paths[0]!, [1, 0.25, 0]],
      [drawn.paths[1]!, [0.2, 0.6, 0.9]],
    ] as const) {
      const got = points(path);
      expect(got).toHaveLength(3);
      got.forEach(([px, py], k) => {
        expect(px).toBeCloseTo(expected([...scores])[k]![0]!, 1);
        expect(py).toBeCloseTo(expected([...scores])[k]![1]!, 1);
      });
    }
    expect(width).toBeGreaterThan(100);
    expect(drawn.role).toBe('img');
    // Trapezoids of the first: ½·(1 + 0.25)/2 + ½·(0.25 + 0)/2 = 0.375; the second's AUC is given.
    expect(drawn.label).toBe('Deletion: ig: AUC 0.375, score 1 at 0 % to 0 at 100 %; saliency: AUC 0.5, score 0.2 at 0 % to 0.9 at 100 %');
    expect(await text()).toMatch(/ig\s*AUC 0\.375\s*saliency\s*AUC 0\.5/);
    await page.focus('#stage > gradlens-curve');
    await page.evaluate(() => (window.widgetTest.widget().shadowRoot!.querySelector('svg') as SVGSVGElement).focus());
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    const readout = () => page.evaluate(() => window.widgetTest.widget().shadowRoot!.querySelector('[part=readout]')!.textContent);
    await page.waitForFunction(() => window.widgetTest.widget().shadowRoot!.querySelector('[part=readout]')!.textContent !== '');
    expect(await readout()).toBe('at 50 % removed: ig 0.25, saliency 0.6');
    await page.keyboard.press('End');
    await page.waitForFunction(() => window.widgetTest.widget().shadowRoot!.querySelector('[part=readout]')!.textContent!.includes('100'));
    expect(await readout()).toBe('at 100 % removed: ig 0, saliency 0.9');
    await shot('curve-given');
  });

  it('curve: computes a deletion curve from a model, an input and an attribution', async () => {
    const lines = readFileSync(new URL('../../samples/tabular.csv', import.meta.url), 'utf8')
      .trim()
      .split('\n');
    const row = lines[1]!.split(',').slice(0, -1).map(Number);
    // Relevance falls with the feature's index: point k of 5 zeroes the first 6k features.
    const attribution = row.map((_, i) => 30 - i);
    await page.evaluate(
      (r, a) =>
        window.widgetTest.mount(
          'gradlens-curve',
          { model: '/models/tabular.onnx', mode: 'deletion', steps: '5' },
          { input: Float32Array.from(r), attribution: Float32Array.from(a) },
        ),
      row,
      attribution,
    );
    const record = await until('result');
    expect(record.error).toBeUndefined();
    expect(phases(record.events)).toEqual(['gradlens-load', 'gradlens-curve']);
    const [curve] = record.curves!;
    expect(curve!.label).toBe('deletion');
    expect(curve!.fractions).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    const before = await page.evaluate((r) => window.widgetTest.probabilities('/models/tabular.onnx', r), row);
    const top = before.indexOf(Math.max(...before));
    for (let k = 0; k <= 5; k++) {
      const deleted = row.map((v, i) => (i < 6 * k ? 0 : v));
      const p = await page.evaluate((d) => window.widgetTest.probabilities('/models/tabular.onnx', d), deleted);
      expect(curve!.scores[k]).toBeCloseTo(p[top]!, 4);
    }
    const paths = await page.evaluate(() =>
      [...window.widgetTest.widget().shadowRoot!.querySelectorAll('path[part=line]')].map((p) => p.getAttribute('d')!),
    );
    expect(paths).toHaveLength(1);
    expect(paths[0]!.match(/[ML]/g)).toHaveLength(6);
    expect(await text()).toMatch(/deletion\s*AUC \d/);
    await shot('curve-computed');
  });

  it('explainer: a device lost mid-run is a readable error, and the next run opens a new device and works', async () => {
    await mount('gradlens-explainer', { model: DIGITS, src: SEVEN, method: 'integrated-gradients', steps: '256', 'chunk-size': '8' });
    await page.waitForFunction(() => window.widgetTest.record().events.includes('gradlens-progress'), { timeout: 60_000 });
    const requests = await page.evaluate(() => window.gradlensAdapterRequests!);
    await page.evaluate(() => window.widgetTest.loseDevice());
    const record = await until('error');
    expect(record.error?.code).toBe('DEVICE_LOST');
    expect(record.error?.message).toMatch(/device was lost/);
    expect(await text()).toMatch(/DEVICE_LOST: .*device was lost/);
    await shot('explainer-device-lost');
    expect(await page.evaluate(() => Boolean(window.widgetTest.widget().shadowRoot!.querySelector('[part=status] .retry')))).toBe(true);
    // The person's next step: another method on the same input.
    await page.evaluate(() => {
      delete window.widgetTest.record().error;
      window.widgetTest.widget().setAttribute('method', 'saliency');
    });
    const after = await until('result');
    expect(after.error).toBeUndefined();
    expect(after.results).toBe(1);
    expect(after.target).toBe(7);
    expect(await page.evaluate(() => window.gradlensAdapterRequests!)).toBe(requests + 1);
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
  it('the demo page built to static files finds its models and runs every widget; its explainer is the README screenshot', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'gradlens-demo-'));
    await build({ root: ROOT, configFile: join(ROOT, 'vite.config.ts'), logLevel: 'error', build: { outDir, emptyOutDir: true } });
    const server = await preview({
      root: ROOT,
      configFile: join(ROOT, 'vite.config.ts'),
      logLevel: 'error',
      build: { outDir },
      preview: { host: '127.0.0.1', port: 0, strictPort: false },
    });
    const demo = await rig.browser.newPage();
    try {
      const address = server.httpServer.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const missing: string[] = [];
      demo.on('response', (response) => response.status() >= 400 && !response.url().endsWith('/favicon.ico') && missing.push(response.url()));
      await demo.setViewport({ width: 1000, height: 900 });
      // Listening before the page's own scripts: every widget's events, by tag.
      await demo.evaluateOnNewDocument(() => {
        const seen: Record<string, string[]> = {};
        (window as unknown as { demoEvents: typeof seen }).demoEvents = seen;
        for (const type of ['gradlens-result', 'gradlens-curve', 'gradlens-error']) {
          document.addEventListener(type, (event) => {
            const detail = (event as CustomEvent).detail;
            (seen[(event.target as Element).localName] ??= []).push(type === 'gradlens-error' ? `error ${detail.code}: ${detail.message}` : type);
          });
        }
      });
      await demo.goto(`http://127.0.0.1:${port}/`);
      const events = () => demo.evaluate(() => (window as unknown as { demoEvents: Record<string, string[]> }).demoEvents);
      await demo.waitForFunction(
        () => {
          const seen = (window as unknown as { demoEvents: Record<string, string[]> }).demoEvents;
          const errored = Object.values(seen)
            .flat()
            .some((e) => e.startsWith('error'));
          return (
            errored ||
            (seen['gradlens-explainer']?.length &&
              seen['gradlens-features']?.length &&
              seen['gradlens-text']?.length &&
              (seen['gradlens-compare']?.length ?? 0) >= 3 &&
              seen['gradlens-curve']?.length)
          );
        },
        { timeout: 150_000, polling: 200 },
      );
      const seen = await events();
      expect(
        Object.values(seen)
          .flat()
          .filter((e) => e.startsWith('error')),
      ).toEqual([]);
      expect(missing).toEqual([]);
      expect(seen['gradlens-curve']).toEqual(['gradlens-curve']);
      const explainer = await demo.$('#explainer');
      await demo.evaluate(() => (document.querySelector('#explainer') as HTMLElement & { updateComplete: Promise<boolean> }).updateComplete);
      // The README's picture is refreshed only on request, so ordinary runs leave the tracked file alone.
      const screenshot = process.env.GRADLENS_UPDATE_SCREENSHOT ? join(ROOT, 'docs/screenshot-explainer.png') : `${OUTPUT}screenshot-explainer.png`;
      await explainer!.screenshot({ path: screenshot });
      await demo.screenshot({ path: `${OUTPUT}demo-page.png`, fullPage: true });
      expect(statSync(screenshot).size).toBeLessThan(200_000);
      expect(await demo.evaluate(() => document.querySelector('#explainer')!.shadowRoot!.querySelector('[part=status]')!.textContent)).toMatch(
        /Done in \d+ ms/,
      );
    } finally {
      await demo.close();
      await new Promise((resolve) => server.httpServer.close(resolve));
      rmSync(outDir, { recursive: true, force: true });
    }
  });
});
