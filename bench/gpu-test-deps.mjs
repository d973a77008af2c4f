// Prints, one a line, the node_modules folders the correctness tests need beyond the production dependencies that
// ../shared/gpu/pack.sh packs: vitest and everything it loads (vite, its bundler's native binding), for linux-x64.
//   bash ../shared/gpu/pack.sh $(node bench/gpu-test-deps.mjs)
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['vitest'];
const seen = new Set();
const visit = (name) => {
  const dir = join('node_modules', name);
  if (seen.has(dir) || !existsSync(join(dir, 'package.json'))) return;
  seen.add(dir);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const optional = Object.keys(pkg.optionalDependencies ?? {}).filter(
    (dep) =>
      /linux-x64-gnu$|linux-x64$/.test(dep) ||
      !/darwin|win32|android|freebsd|openbsd|sunos|arm|ia32|musl|wasm|netbsd|aix|ppc|s390|riscv|loong|mips|openharmony/.test(dep),
  );
  for (const dep of [...Object.keys(pkg.dependencies ?? {}), ...optional]) visit(dep);
};
for (const root of roots) visit(root);
process.stdout.write([...seen].sort().join('\n') + '\n');
