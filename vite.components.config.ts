import { defineConfig } from 'vite';

// The widgets as one classic script (IIFE) for pages opened from file://, where module scripts are blocked:
// `gradlens report` copies it beside report.html. Lit and the WGSL are bundled in; nothing is loaded at run time.
export default defineConfig({
  publicDir: false,
  build: {
    outDir: 'dist/components',
    emptyOutDir: true,
    target: 'es2022',
    lib: { entry: 'components/index.ts', name: 'gradlens', formats: ['iife'], fileName: () => 'gradlens-components.iife.js' },
  },
});
