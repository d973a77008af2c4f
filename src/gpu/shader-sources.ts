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

const usedLibraries = (code: string) => [...code.matchAll(/^\/\/ uses: ([a-z0-9-]+)/gm)].map((match) => match[1]!);

/**
 * A module variant that swaps libraries for their twins and needs a WebGPU feature: `subgroups` (shaders/lib/NAME-subgroups.wgsl,
 * row reductions on subgroup operations) and `f16` (shaders/lib/NAME-f16.wgsl: weights stored as f16).
 */
export type ShaderVariant = 'subgroups' | 'f16';

/**
 * The module with the libraries its `// uses:` lines name appended. With a variant, each library NAME that has a twin
 * NAME-variant in shaders/lib/ is replaced by it and the module starts with `enable variant;` (put before its first
 * line, so line numbers still hold): that source compiles only on a device created with the feature.
 */
export function withLibraries(code: string, variant?: ShaderVariant): string {
  const twin = (name: string) => (variant && library.has(`${name}-${variant}`) ? `${name}-${variant}` : name);
  return [
    variant ? `enable ${variant}; ${code}` : code,
    ...usedLibraries(code).map((name) => {
      const source = library.get(twin(name));
      if (source === undefined) throw new Error(`WGSL library "${name}" not found in shaders/lib/`);
      return source;
    }),
  ].join('\n');
}

/** The name of a module's variant (see `variantSources`). */
export const variantName = (module: string, variant: ShaderVariant) => `${module}+${variant}`;

/** Whether a module name is a variant's of `variant` (`variantName`). */
export const isVariant = (module: string, variant: ShaderVariant) => module.endsWith(`+${variant}`);

/** The module a variant was made from; any other name as it is. */
export const baseModule = (module: string) => module.replace(/\+[a-z0-9]+$/, '');

/** Whether a module's code uses a library that has a twin for `variant`, i.e. whether that variant differs from it. */
export function hasVariant(code: string, variant: ShaderVariant): boolean {
  return usedLibraries(code).some((name) => library.has(`${name}-${variant}`));
}

/** Module name → its file, relative to shaders/ (for messages). */
export const shaderFiles: Readonly<Record<string, string>> = Object.fromEntries(
  Object.keys(files).map((path) => [nameOf(path), path.replace(/^.*\/shaders\//, '')]),
);
if (Object.keys(shaderFiles).length !== Object.keys(files).length) throw new Error('two files in shaders/ share a name');

export const shaderSources: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(files).map(([path, code]) => [nameOf(path), withLibraries(code)]),
);

/**
 * The variants of each module that has them, by `variantName`: compiled only where the device has the feature
 * (KernelRegistry.variant chooses), since `enable subgroups;` or `enable f16;` fails to compile elsewhere.
 */
export const variantSources: Readonly<Record<string, string>> = Object.fromEntries(
  (['subgroups', 'f16'] as const).flatMap((variant) =>
    Object.entries(files)
      .filter(([, code]) => hasVariant(code, variant))
      .map(([path, code]) => [variantName(nameOf(path), variant), withLibraries(code, variant)]),
  ),
);
