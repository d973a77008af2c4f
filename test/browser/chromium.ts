import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { createServer, type ViteDevServer } from 'vite';
import { fromSource } from '../../vite.shared.ts';

/** Debian's chromium with WebGPU on SwiftShader; CHROMIUM_PATH overrides the binary. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

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

export interface BrowserRig {
  server: ViteDevServer;
  browser: Browser;
  url(path: string): string;
  close(): Promise<void>;
}

/** A Vite dev server on localhost (WebGPU needs a secure context) and a headless Chromium pointed at it. */
export async function startBrowserRig(): Promise<BrowserRig> {
  const server = await createServer({
    ...fromSource,
    configFile: false,
    root: new URL('../..', import.meta.url).pathname,
    logLevel: 'error',
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false },
  });
  await server.listen();
  const address = server.httpServer!.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const { browser, close } = await launchChromium();
  return {
    server,
    browser,
    url: (path) => `http://127.0.0.1:${port}/${path}`,
    async close() {
      await close();
      await server.close();
    },
  };
}

/** Headless Chromium with WebGPU on SwiftShader, in a profile of its own that close() removes. */
export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'gradlens-chromium-'));
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, args: [...FLAGS, `--user-data-dir=${profile}`] });
  return {
    browser,
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
