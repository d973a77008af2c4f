import { defineConfig } from 'vite';
import { fromSource } from './vite.shared.ts';

// The Node CLI and the benchmark as ESM files: WGSL inlined, dependencies (Dawn's native addon among them) left external.
export default defineConfig({
  ...fromSource,
  build: {
    ssr: true,
    outDir: 'dist/node',
    target: 'node20',
    emptyOutDir: true,
    sourcemap: true,
    rollupOptions: {
      input: { cli: 'src/node/cli.ts', bench: 'bench/run.ts' },
      output: { entryFileNames: '[name].js', banner: '#!/usr/bin/env node' },
    },
  },
});
