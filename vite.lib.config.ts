import { builtinModules } from 'node:module';
import { defineConfig } from 'vite';
import pkg from './package.json' with { type: 'json' };
import { fromSource } from './vite.shared.ts';

// The npm package's library: the isomorphic runtime, the widgets and the two platform adapters as ES modules that
// share their chunks (one Lens, one GradlensError class). WGSL is inlined; dependencies and `#adapter` stay imports,
// so the consumer's resolver picks Dawn under the `node` condition and navigator.gpu elsewhere (package.json "imports").
const external = [...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies), '#adapter', ...builtinModules];

export default defineConfig({
  ...fromSource,
  publicDir: false,
  build: {
    outDir: 'dist/lib',
    emptyOutDir: true,
    target: 'es2022',
    minify: false,
    lib: {
      entry: {
        index: 'src/index.ts',
        node: 'src/node/index.ts',
        components: 'components/index.ts',
        'adapter-node': 'src/node/dawn.ts',
        'adapter-browser': 'src/gpu/browser-adapter.ts',
      },
      formats: ['es'],
    },
    rollupOptions: {
      external: (id) => external.some((name) => id === name || id.startsWith(`${name}/`) || id.startsWith('node:')),
      output: { chunkFileNames: 'chunks/[name]-[hash].js' },
    },
  },
});
