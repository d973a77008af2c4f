import { defineConfig } from 'vite';

// The Node CLI as one ESM file: WGSL inlined, dependencies (Dawn's native addon among them) left external.
export default defineConfig({
  build: {
    ssr: 'src/node/cli.ts',
    outDir: 'dist/node',
    target: 'node20',
    emptyOutDir: true,
    sourcemap: true,
    rollupOptions: { output: { entryFileNames: 'cli.js', banner: '#!/usr/bin/env node' } },
  },
});
