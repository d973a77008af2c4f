import { cpSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';
import { fromSource } from './vite.shared.ts';

/** The demo fetches models/*.onnx and samples/ by relative URL: put them beside the built page. */
function demoAssets(): Plugin {
  let root = process.cwd();
  let outDir = 'dist';
  return {
    name: 'gradlens-demo-assets',
    apply: 'build',
    configResolved(config) {
      root = config.root;
      outDir = resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      for (const name of readdirSync(join(root, 'models')).filter((f) => f.endsWith('.onnx')))
        cpSync(join(root, 'models', name), join(outDir, 'models', name));
      cpSync(join(root, 'samples'), join(outDir, 'samples'), { recursive: true });
    },
  };
}

// The web build (demo page, widgets) and the test projects. The Node CLI is built by vite.node.config.ts.
export default defineConfig({
  ...fromSource,
  // Relative asset URLs: the built demo works from any folder of a static host.
  base: './',
  plugins: [demoAssets()],
  test: {
    // src/attribution/generated/ (the method list) is written before any test file is transformed.
    globalSetup: ['scripts/method-index.mjs'],
    // Tests run on Vulkan (SwiftShader without a GPU) unless GRADLENS_BACKEND says otherwise; test/node/dawn.test.ts
    // covers the automatic choice.
    // No autotune cache unless a test names one (test/gpu/tune.test.ts): a user's ~/.cache/gradlens changes no test.
    env: { GRADLENS_BACKEND: process.env.GRADLENS_BACKEND ?? 'vulkan', GRADLENS_TUNE_CACHE: 'off' },
    // Software adapters are slow and each test file opens its own device: keep files from starving each other.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/browser/**', 'test/package/**'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: { name: 'browser', include: ['test/browser/**/*.test.ts'], testTimeout: 180_000, hookTimeout: 180_000 },
      },
      {
        extends: true,
        // The packed tarball in fresh projects (npm install from the registry); GRADLENS_SKIP_PACKAGE_TESTS=1 skips it.
        test: { name: 'package', include: ['test/package/**/*.test.ts'], testTimeout: 300_000, hookTimeout: 600_000 },
      },
    ],
  },
});
