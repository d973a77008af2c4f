import { mkdirSync } from 'node:fs';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowserRig, type BrowserRig } from './chromium.ts';

const OUTPUT = new URL('../../test-output/', import.meta.url).pathname;

interface TokenView {
  text: string;
  label: string;
  tabIndex: number;
  background: string;
}

describe('<gradlens-text> in headless Chromium on SwiftShader', () => {
  let rig: BrowserRig;
  let page: Page;

  const tokens = () =>
    page.evaluate(() =>
      [...window.widgetTest.widget().shadowRoot!.querySelectorAll<HTMLElement>("[part='token']")].map((li) => ({
        text: li.textContent!.trim(),
        label: li.getAttribute('aria-label')!,
        tabIndex: li.tabIndex,
        background: getComputedStyle(li).backgroundColor,
      })),
    ) as Promise<TokenView[]>;
  const focusedIndex = () => page.evaluate(() => window.widgetTest.widget().shadowRoot!.activeElement?.getAttribute('data-index') ?? null);
  // The opacity of a computed colour: rgba(r, g, b, a), color(srgb r g b / a), or opaque without an alpha.
  const alpha = (colour: string) => {
    const match = /^rgba\(.*,\s*([\d.]+)\)$/.exec(colour) ?? /\/\s*([\d.]+)\)$/.exec(colour);
    return match ? Number(match[1]) : 1;
  };

  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    rig = await startBrowserRig();
    page = await rig.browser.newPage();
    await page.setViewport({ width: 700, height: 500 });
    page.on('pageerror', (error) => console.error('page error:', error));
    await page.goto(rig.url('test/browser/widgets-page/index.html'));
    await page.waitForFunction(() => window.gradlensReady === true, { timeout: 60_000 });
  });

  afterAll(async () => rig?.close());

  it('explains a review: one shaded, labelled token per word, the model’s prediction, a legend', async () => {
    await page.evaluate(() =>
      window.widgetTest.mount('gradlens-text', { model: '/models/sentiment.onnx', text: 'the movie was not good', method: 'gradient-x-input' }),
    );
    const record = await page.evaluate(() => window.widgetTest.until('result'));
    expect(record.error).toBeUndefined();
    expect(record.events.filter((e, i) => e !== record.events[i - 1])).toEqual(['gradlens-load', 'gradlens-progress', 'gradlens-result']);
    const view = await tokens();
    expect(view.map((t) => t.text)).toEqual(['[CLS]', 'the', 'movie', 'was', 'not', 'good']);
    // Each token's accessible name carries its signed value and direction towards the predicted class.
    for (const t of view) {
      expect(t.label.startsWith(`${t.text}: `)).toBe(true);
      expect(t.label).toMatch(/: [+−]?[\d.e−]+, (towards negative|against negative|neutral)$/);
    }
    const values = view.map((t) => Number(/: ([+−]?[\d.e−]+)/.exec(t.label)![1]!.replace(/−/g, '-').replace('+', '')));
    const strongest = values.reduce((best, v, i) => (Math.abs(v) > Math.abs(values[best]!) ? i : best), 0);
    // The strongest token is fully shaded; a weaker one less.
    expect(alpha(view[strongest]!.background)).toBeGreaterThan(0.95);
    const weakest = values.reduce((best, v, i) => (Math.abs(v) < Math.abs(values[best]!) ? i : best), 0);
    expect(alpha(view[weakest]!.background)).toBeLessThan(alpha(view[strongest]!.background));
    const text = await page.evaluate(() => window.widgetTest.text());
    expect(text).toMatch(/negative\s*\d+\.\d %/);
    expect(text).toMatch(/against negative · towards negative/);
    const element = await page.$('#stage > *');
    await element!.screenshot({ path: `${OUTPUT}text-gradient-x-input.png` });
  });

  it('is keyboard friendly: one tab stop, arrows, Home and End move the focus and show the value', async () => {
    const view = await tokens();
    expect(view.filter((t) => t.tabIndex === 0)).toHaveLength(1);
    await page.evaluate(() => window.widgetTest.widget().shadowRoot!.querySelector<HTMLElement>("[part='token'][tabindex='0']")!.focus());
    expect(await focusedIndex()).toBe('0');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    expect(await focusedIndex()).toBe('2');
    await page.keyboard.press('End');
    expect(await focusedIndex()).toBe('5');
    const detail = await page.evaluate(() => window.widgetTest.widget().shadowRoot!.querySelector("[part='detail']")!.textContent);
    expect(detail).toMatch(/good: [+−]?[\d.]+/);
    await page.keyboard.press('Home');
    expect(await focusedIndex()).toBe('0');
  });

  it('draws a given attribution without a model, dark theme, wrapping long texts within its width', async () => {
    const words = Array.from({ length: 40 }, (_, i) => `word${i}`);
    await page.evaluate((w) => {
      window.widgetTest.mount('gradlens-text', { theme: 'dark' }, { tokens: w, attribution: w.map((_, i) => Math.sin(i)) });
      (document.querySelector('#stage') as HTMLElement).style.width = '320px';
    }, words);
    await page.waitForFunction(() => window.widgetTest.widget().shadowRoot?.querySelectorAll("[part='token']").length === 40);
    const box = await page.evaluate(() => {
      const list = window.widgetTest.widget().shadowRoot!.querySelector("[part='tokens']")!.getBoundingClientRect();
      return { width: list.width, height: list.height };
    });
    expect(box.width).toBeLessThanOrEqual(320);
    expect(box.height).toBeGreaterThan(60); // several lines
    const element = await page.$('#stage > *');
    await element!.screenshot({ path: `${OUTPUT}text-presentational-dark.png` });
    await page.evaluate(() => ((document.querySelector('#stage') as HTMLElement).style.width = ''));
  });
});
