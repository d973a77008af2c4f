import { defineConfig } from 'vitest/config';

// The web build (demo page, widgets) and the test projects. The Node CLI is built by vite.node.config.ts.
export default defineConfig({
  test: {
    // Software adapters are slow and each test file opens its own device: keep files from starving each other.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: 'node', include: ['test/**/*.test.ts'], exclude: ['test/browser/**'], testTimeout: 120_000, hookTimeout: 120_000 },
      },
      {
        extends: true,
        test: { name: 'browser', include: ['test/browser/**/*.test.ts'], testTimeout: 180_000, hookTimeout: 180_000 },
      },
    ],
  },
});
