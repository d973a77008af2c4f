import { defineConfig } from 'vite';
import { fromSource } from './vite.shared.ts';

// The library and the widgets as single files for pages without a bundler, Lit and the WGSL inlined, nothing loaded at
// run time: gradlens.js, an ES module for <script type="module"> (CDN style); gradlens-components.iife.js, a classic
// script for pages opened from file://, where module scripts are blocked (`gradlens report` copies it beside report.html).
export default defineConfig({
  ...fromSource,
  publicDir: false,
  build: {
    outDir: 'dist/components',
    emptyOutDir: true,
    target: 'es2022',
    minify: true,
    lib: {
      entry: 'components/standalone.ts',
      name: 'gradlens',
      formats: ['es', 'iife'],
      fileName: (format) => (format === 'es' ? 'gradlens.js' : 'gradlens-components.iife.js'),
    },
  },
});
