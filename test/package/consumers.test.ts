import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pngjs from 'pngjs';
import type { Browser } from 'puppeteer-core';
import { preview } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../browser/chromium.ts';

// The tarball `npm pack` makes, installed from the npm registry into fresh projects as a user would: Node, TypeScript
// (nodenext and bundler), React's types, a Vite app and a page with no bundler. GRADLENS_SKIP_PACKAGE_TESTS=1 skips them.
const ROOT = new URL('../../', import.meta.url).pathname;
const OUTPUT = join(ROOT, 'test-output/package');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
const vite = join(ROOT, 'node_modules/vite/bin/vite.js');

/** The first code block of a language after a heading of one of the READMEs: the tests run the docs verbatim. */
function readmeBlock(file: string, heading: string, language: string): string {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const start = text.indexOf(heading);
  const match = new RegExp('```' + language + '\\n([\\s\\S]*?)```').exec(text.slice(start));
  if (start < 0 || !match) throw new Error(`${file}: no ${language} block after "${heading}"`);
  return match[1]!;
}

const run = (command: string, args: string[], options: ExecFileSyncOptions) => {
  try {
    return String(execFileSync(command, args, { encoding: 'utf8', stdio: 'pipe', ...options }));
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed:\n${stdout ?? ''}${stderr ?? ''}`);
  }
};

const write = (path: string, text: string) => {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
};

/** tsc's error lines for a project; none when it type-checks. */
function typeErrors(project: string): string[] {
  try {
    run(process.execPath, [tsc, '-p', project], {});
    return [];
  } catch (error) {
    return (error as Error).message.split('\n').filter((line) => line.includes('error TS'));
  }
}

/** What a page saw of the widgets' events. */
interface Seen {
  targets: number[];
  errors: string[];
}

const STRICT = { strict: true, noEmit: true, skipLibCheck: false, noUncheckedIndexedAccess: true, target: 'es2022' };

describe.skipIf(process.env.GRADLENS_SKIP_PACKAGE_TESTS === '1')('the packed package in fresh projects', () => {
  let dir: string;
  let tarball: string;

  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist/lib/index.js'))) throw new Error('build the package first: npm run build');
    dir = mkdtempSync(join(tmpdir(), 'gradlens-consumers-'));
    tarball = run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: ROOT }).trim().split('\n').pop()!;
    // One install for every project below (they sit in sub-folders and resolve from here); the npm cache serves repeats.
    const dependencies = {
      gradlens: `file:./${tarball}`,
      webgpu: pkg.devDependencies.webgpu,
      '@types/node': pkg.devDependencies['@types/node'],
      '@types/react': '^19',
    };
    write(join(dir, 'package.json'), JSON.stringify({ name: 'consumers', private: true, type: 'module', dependencies }));
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts'], { cwd: dir });
  }, 600_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ships the built files only: no tests, fixtures, CI, TypeScript sources or source maps', () => {
    const files = run('tar', ['tzf', join(dir, tarball)], {})
      .split('\n')
      .filter(Boolean);
    expect(files.filter((f) => /^package\/(test|fixtures|\.ci|src|components|bench|shaders)\//.test(f))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.map') || (f.endsWith('.ts') && !f.endsWith('.d.ts')))).toEqual([]);
    for (const entry of ['dist/lib/index.js', 'dist/lib/node.js', 'dist/lib/components.js', 'dist/components/gradlens.js']) {
      expect(files).toContain(`package/${entry}`);
    }
  });

  it('custom-elements.json points at files the package ships', () => {
    const installed = join(dir, 'node_modules/gradlens');
    const manifest = JSON.parse(readFileSync(join(installed, 'custom-elements.json'), 'utf8'));
    const paths: string[] = manifest.modules.map((module: { path: string }) => module.path);
    expect(paths.length).toBeGreaterThan(0);
    for (const path of paths) expect(existsSync(join(installed, path)), path).toBe(true);
  });

  it('plain Node ESM runs the README example: the bundled digit model explains the sample 7', () => {
    write(join(dir, 'node-esm/example.mjs'), readmeBlock('README.md', '## Use it from JavaScript', 'js'));
    const output = run(process.execPath, ['example.mjs'], { cwd: join(dir, 'node-esm') });
    expect(output).toMatch(/^class 7: score \d+\.\d\d, completeness gap -?0\.0\d\d\d$/m);
  });

  it('the README example type-checks in a strict TypeScript project under moduleResolution nodenext', () => {
    const project = join(dir, 'ts-nodenext');
    write(join(project, 'example.mts'), readmeBlock('README.md', '## Use it from JavaScript', 'js'));
    const compilerOptions = { ...STRICT, module: 'nodenext', moduleResolution: 'nodenext', types: ['node'] };
    write(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['example.mts'] }));
    expect(typeErrors(project)).toEqual([]);
  });

  it('the README bundler snippet type-checks under moduleResolution bundler, and Node-only exports are not offered', () => {
    const project = join(dir, 'ts-bundler');
    write(join(project, 'main.ts'), readmeBlock('README.md', 'With a bundler', 'ts'));
    write(join(project, 'node-only.ts'), "import { loadImage } from 'gradlens';\nexport default loadImage;\n");
    const compilerOptions = { ...STRICT, module: 'esnext', moduleResolution: 'bundler', types: [] };
    write(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['main.ts', 'node-only.ts'] }));
    const errors = typeErrors(project);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/node-only\.ts.*TS2305.*'loadImage'/);
  });

  it('the React snippet type-checks with React 19 types; a string for a number prop is an error', () => {
    const project = join(dir, 'react');
    const snippet = readmeBlock('components/README.md', '## React', 'tsx');
    write(join(project, 'digit.tsx'), snippet);
    write(join(project, 'wrong.tsx'), `${snippet.replace('steps={32}', 'steps="32"')}`);
    const compilerOptions = { ...STRICT, module: 'esnext', moduleResolution: 'bundler', jsx: 'react-jsx', types: [] };
    write(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['digit.tsx'] }));
    expect(typeErrors(project)).toEqual([]);
    write(join(project, 'wrong/tsconfig.json'), JSON.stringify({ compilerOptions, files: ['../wrong.tsx'] }));
    const errors = typeErrors(join(project, 'wrong'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/wrong\.tsx.*TS2322: Type 'string' is not assignable to type 'number'/);
  });

  describe('in headless Chromium', () => {
    let browser: Browser;
    let close: () => Promise<void>;

    beforeAll(async () => {
      mkdirSync(OUTPUT, { recursive: true });
      ({ browser, close } = await launchChromium());
    }, 120_000);
    afterAll(async () => close?.());

    /** The demo's model and a digit beside a page, where the README's snippets look for them. */
    const copyAssets = (to: string) => {
      const installed = join(dir, 'node_modules/gradlens');
      cpSync(join(installed, 'models/digits.onnx'), join(to, 'models/digits.onnx'));
      cpSync(join(installed, 'samples/digits'), join(to, 'samples/digits'), { recursive: true });
    };

    /** Serves `root` statically, opens `path`, waits for the explainer's result and checks its heat map is drawn. */
    async function explainsInPage(root: string, path: string, screenshot: string) {
      const server = await preview({
        configFile: false,
        root,
        appType: 'mpa',
        logLevel: 'error',
        build: { outDir: root },
        preview: { host: '127.0.0.1', port: 0 },
      });
      const page = await browser.newPage();
      try {
        const errors: string[] = [];
        page.on('pageerror', (error) => errors.push(String(error)));
        await page.evaluateOnNewDocument(() => {
          const record: Seen = { targets: [], errors: [] };
          (window as unknown as { gradlens: Seen }).gradlens = record;
          const detail = (event: Event) => (event as CustomEvent).detail;
          document.addEventListener('gradlens-result', (event) => record.targets.push(detail(event).explanation.target[0]));
          document.addEventListener('gradlens-error', (event) => record.errors.push(`${detail(event).code}: ${detail(event).message}`));
        });
        const address = server.httpServer.address();
        await page.goto(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/${path}`);
        const seen = () => page.evaluate(() => (window as unknown as { gradlens: Seen }).gradlens);
        await page.waitForFunction(
          () => {
            const { targets, errors } = (window as unknown as { gradlens: Seen }).gradlens;
            return targets.length > 0 || errors.length > 0;
          },
          { timeout: 120_000 },
        );
        expect(errors).toEqual([]);
        expect(await seen()).toMatchObject({ errors: [] });
        const element = (await page.$('gradlens-explainer'))!;
        const canvas = await page.evaluateHandle(async (explainer) => {
          const heatmap = explainer.shadowRoot!.querySelector('gradlens-heatmap') as HTMLElement & { rendered: Promise<void> };
          await heatmap.rendered;
          return heatmap.shadowRoot!.querySelector('canvas')!;
        }, element);
        await element.screenshot({ path: join(OUTPUT, screenshot) });
        const png = pngjs.PNG.sync.read(Buffer.from(await canvas.screenshot()));
        const colours = new Set<number>();
        for (let i = 0; i < png.data.length; i += 4) colours.add((png.data[i]! << 16) | (png.data[i + 1]! << 8) | png.data[i + 2]!);
        // A blank or single-colour canvas has one colour; a viridis map over a 28×28 digit has dozens.
        expect(colours.size).toBeGreaterThan(40);
        return (await seen()).targets;
      } finally {
        await page.close();
        await server.close();
      }
    }

    it('a fresh Vite app with <gradlens-explainer> (the README bundler snippet) renders a heat map', async () => {
      const app = join(dir, 'vite-app');
      write(join(app, 'index.html'), '<!doctype html>\n<html><body><script type="module" src="./main.ts"></script></body></html>\n');
      write(join(app, 'main.ts'), readmeBlock('README.md', 'With a bundler', 'ts'));
      copyAssets(join(app, 'public'));
      run(process.execPath, [vite, 'build', '--logLevel', 'error'], { cwd: app });
      expect(readFileSync(join(app, 'dist/index.html'), 'utf8')).toContain('<script type="module"');
      // The browser build took navigator.gpu's adapter: nothing of Dawn, or of Node, is in it.
      const bundle = readdirSync(join(app, 'dist/assets'))
        .map((file) => readFileSync(join(app, 'dist/assets', file), 'utf8'))
        .join('\n');
      expect(bundle).toContain('navigator');
      expect(bundle).not.toMatch(/["']webgpu["']|node:fs|VK_ICD_FILENAMES/);
      expect(await explainsInPage(join(app, 'dist'), 'index.html', 'vite-app.png')).toEqual([7]);
    });

    it('a static page loads the single-file module with no bundler (the README HTML snippet) and renders a heat map', async () => {
      const site = join(dir, 'static');
      const snippet = readmeBlock('README.md', 'Without one', 'html').replace(/https:\/\/cdn\.jsdelivr\.net\/npm\/gradlens@[^/]+\//, '/gradlens/');
      expect(snippet).toContain('/gradlens/dist/components/gradlens.js');
      write(join(site, 'index.html'), `<!doctype html>\n<html><body>\n${snippet}</body></html>\n`);
      cpSync(join(dir, 'node_modules/gradlens/dist'), join(site, 'gradlens/dist'), { recursive: true });
      copyAssets(site);
      expect(await explainsInPage(site, 'index.html', 'static-page.png')).toEqual([3]);
    });
  });
});
