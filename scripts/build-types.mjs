// The package's .d.ts files: tsc emits them (tsconfig.build.json), then relative `.ts` specifiers become `.js`
// (tsc rewrites them in JavaScript only), and the hand-written React typings are copied beside the widgets'.
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const outDir = 'dist/types';
rmSync(outDir, { recursive: true, force: true });
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
cpSync('components/react.d.ts', join(outDir, 'components/react.d.ts'));

const relativeTs = /((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]+)\.ts\2/g;
for (const file of readdirSync(outDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.d.ts'))) {
  const path = join(outDir, file);
  const text = readFileSync(path, 'utf8');
  // wgsl_reflect's module build has no types of its own (src/types/wgsl-reflect.d.ts maps it); its package's do.
  const rewritten = text.replace(relativeTs, '$1$2$3.js$2').replaceAll("'wgsl_reflect/wgsl_reflect.module.js'", "'wgsl_reflect'");
  if (rewritten !== text) writeFileSync(path, rewritten);
}
