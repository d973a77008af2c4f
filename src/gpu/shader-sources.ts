/**
 * Every WGSL file in shaders/, inlined by Vite at build time (browser bundle, Node CLI and tests alike):
 * the .wgsl files stay the single source and no call site reads the file system. Op kernels sit at the top;
 * attribution, metric and render kernels in subfolders of those names; a module is named by its file name alone.
 * WGSL has no imports, so a module that says `// uses: NAME` gets shaders/lib/NAME.wgsl appended; appended, not
 * prepended, so error line numbers still point into the module as written.
 */
const files = import.meta.glob(['../../shaders/**/*.wgsl', '!../../shaders/lib/**'], { query: '?raw', import: 'default', eager: true }) as Record<
  string,
  string
>;
const libraries = import.meta.glob('../../shaders/lib/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

const nameOf = (path: string) => path.replace(/^.*\/(.+)\.wgsl$/, '$1');
/** shaders/lib/ modules by name, as written (without libraries of their own). */
export const library: ReadonlyMap<string, string> = new Map(Object.entries(libraries).map(([path, code]) => [nameOf(path), code]));

/** The module with the libraries its `// uses:` lines name appended. */
export function withLibraries(code: string): string {
  const used = [...code.matchAll(/^\/\/ uses: ([a-z0-9-]+)/gm)].map((match) => match[1]!);
  return [
    code,
    ...used.map((name) => {
      const source = library.get(name);
      if (source === undefined) throw new Error(`WGSL library "${name}" not found in shaders/lib/`);
      return source;
    }),
  ].join('\n');
}

/** Module name → its file, relative to shaders/ (for messages). */
export const shaderFiles: Readonly<Record<string, string>> = Object.fromEntries(
  Object.keys(files).map((path) => [nameOf(path), path.replace(/^.*\/shaders\//, '')]),
);
if (Object.keys(shaderFiles).length !== Object.keys(files).length) throw new Error('two files in shaders/ share a name');

export const shaderSources: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(files).map(([path, code]) => [nameOf(path), withLibraries(code)]),
);
