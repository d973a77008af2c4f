/**
 * Every WGSL file in shaders/, inlined by Vite at build time (browser bundle, Node CLI and tests alike):
 * the .wgsl files stay the single source and no call site reads the file system.
 */
const files = import.meta.glob('../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

export const shaderSources: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(files).map(([path, code]) => [path.replace(/^.*\/(.+)\.wgsl$/, '$1'), code]),
);
