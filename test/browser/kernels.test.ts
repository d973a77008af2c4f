import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuContext } from '../../src/gpu/index.ts';
import { runAllActivations } from '../helpers/activation-run.ts';
import { startBrowserRig, type BrowserRig } from './chromium.ts';

interface PageResult {
  report?: { description: string; architecture: string; backend: string };
  selfTest?: { ok: boolean };
  activations?: Record<string, { y: number[]; gradX: number[] }>;
  error?: { code: string; message: string };
}

describe('the same kernels in headless Chromium (navigator.gpu) and in Node (Dawn)', () => {
  let rig: BrowserRig;
  let fromBrowser: PageResult;

  beforeAll(async () => {
    rig = await startBrowserRig();
    const page = await rig.browser.newPage();
    page.on('pageerror', (error) => console.error('page error:', error));
    await page.goto(rig.url('test/browser/page/index.html'));
    await page.waitForFunction(() => window.gradlensCheck !== undefined, { timeout: 60_000 });
    fromBrowser = (await page.evaluate(() => window.gradlensCheck)) as PageResult;
  });

  afterAll(async () => rig?.close());

  it('gets a WebGPU device in the browser and runs the self-test kernel', () => {
    expect(fromBrowser.error).toBeUndefined();
    expect(fromBrowser.report?.backend).toBe('browser');
    expect(`${fromBrowser.report?.architecture} ${fromBrowser.report?.description}`).toMatch(/swiftshader/i);
    expect(fromBrowser.selfTest?.ok).toBe(true);
  });

  it('gives bit-identical activations and gradients to Node on the same software adapter', async () => {
    const context = await GpuContext.open();
    try {
      const fromNode = await runAllActivations(context);
      expect(Object.keys(fromBrowser.activations ?? {})).toEqual(Object.keys(fromNode));
      // The page's result crosses DevTools as JSON, which writes -0 as 0; otherwise every value must be identical.
      const plusZero = (r: Record<string, { y: number[]; gradX: number[] }>) =>
        Object.fromEntries(Object.entries(r).map(([k, v]) => [k, { y: v.y.map((n) => n + 0), gradX: v.gradX.map((n) => n + 0) }]));
      expect(plusZero(fromBrowser.activations!)).toEqual(plusZero(fromNode));
    } finally {
      context.destroy();
    }
  });
});
