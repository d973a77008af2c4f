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
 * The module with the libraries its `// uses:` lines name appended. With `subgroups`, each library NAME that has a
 * twin NAME-subgroups in shaders/lib/ is replaced by it and the module starts with `enable subgroups;` (put before its
 * first line, so line numbers still hold): that source compiles only on a device created with the feature.
 */
export function withLibraries(code: string, variant: { subgroups?: boolean } = {}): string {
  const twin = (name: string) => (variant.subgroups && library.has(`${name}${SUBGROUPS_SUFFIX}`) ? `${name}${SUBGROUPS_SUFFIX}` : name);
  return [
    variant.subgroups ? `enable subgroups; ${code}` : code,
    ...usedLibraries(code).map((name) => {
      const source = library.get(twin(name));
      if (source === undefined) throw new Error(`WGSL library "${name}" not found in shaders/lib/`);
      return source;
    }),
  ].join('\n');
}

const SUBGROUPS_SUFFIX = '-subgroups';
const VARIANT_SUFFIX = '+subgroups';

/** The name of a module's subgroups variant (see `subgroupSources`). */
export const subgroupVariantName = (module: string) => `${module}${VARIANT_SUFFIX}`;

/** Whether a module name is a subgroups variant's (`subgroupVariantName`). */
export const isSubgroupVariant = (module: string) => module.endsWith(VARIANT_SUFFIX);

/** The module a subgroups variant was made from; any other name as it is. */
export const baseModule = (module: string) => (isSubgroupVariant(module) ? module.slice(0, -VARIANT_SUFFIX.length) : module);

/** Whether a module's code uses a library that has a subgroups twin, i.e. whether a subgroups variant differs from it. */
export function hasSubgroupVariant(code: string): boolean {
  return usedLibraries(code).some((name) => library.has(`${name}${SUBGROUPS_SUFFIX}`));
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
 * The subgroups variant of each module that has one, by `subgroupVariantName`: compiled only where the device has the
 * `subgroups` feature (KernelRegistry.variant chooses), since `enable subgroups;` fails to compile elsewhere.
 */
export const subgroupSources: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(files)
    .filter(([, code]) => hasSubgroupVariant(code))
    .map(([path, code]) => [subgroupVariantName(nameOf(path)), withLibraries(code, { subgroups: true })]),
);
