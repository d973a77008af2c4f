// The Custom Elements Manifest (`npm run analyze`) describes the widgets as the package ships them: one module,
// dist/lib/components.js (what `gradlens/components` loads), instead of the TypeScript sources it was read from.
const SHIPPED = 'dist/lib/components.js';

/** Every `module` and `path` that names a source file under components/ names the shipped module instead. */
function pointAtShipped(value) {
  if (Array.isArray(value)) return value.map(pointAtShipped);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, field]) => [
      key,
      (key === 'module' || key === 'path') && /^\/?components\//.test(field) ? SHIPPED : pointAtShipped(field),
    ]),
  );
}

export default {
  globs: ['components/gradlens-*.ts', 'components/input-element.ts'],
  outdir: '.',
  litelement: true,
  packagejson: false, // package.json's "customElements" is written by hand: the tests analyze into test-output
  plugins: [
    {
      name: 'gradlens-shipped-paths',
      packageLinkPhase({ customElementsManifest: manifest }) {
        const modules = pointAtShipped(manifest.modules);
        manifest.modules = [
          {
            kind: 'javascript-module',
            path: SHIPPED,
            declarations: modules.flatMap((module) => module.declarations ?? []),
            exports: modules.flatMap((module) => module.exports ?? []),
          },
        ];
      },
    },
  ],
};
