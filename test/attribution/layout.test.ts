import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../src/attribution');

/** Every .ts file under src/attribution and the files of src/attribution it imports (type-only imports included). */
function importGraph(): Map<string, string[]> {
  const files = readdirSync(ROOT, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(ROOT, f));
  return new Map(
    files.map((file) => {
      const source = readFileSync(file, 'utf8');
      const targets = [...source.matchAll(/^(?:import|export)[^;]*?from '(\.[^']+)'/gms)].map((m) => resolve(dirname(file), m[1]!));
      return [file, targets.filter((t) => t.startsWith(ROOT))];
    }),
  );
}

describe('the attribution layer has no import cycle', () => {
  it('a depth-first walk meets no file twice on one path', () => {
    const graph = importGraph();
    expect(graph.size).toBeGreaterThan(10);
    const cycles: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (path.includes(file)) return void cycles.push([...path.slice(path.indexOf(file)), file].map((f) => f.slice(ROOT.length + 1)).join(' → '));
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
    };
    for (const file of graph.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it('nothing imports the registry but what sits above it: explain.ts and describe.ts', () => {
    const importers = [...importGraph()]
      .filter(([, targets]) => targets.some((t) => t.endsWith('/registry.ts')))
      .map(([file]) => file.slice(ROOT.length + 1));
    expect(importers.sort()).toEqual(['describe.ts', 'explain.ts']);
  });
});

describe('a method is one file of src/attribution/methods/', () => {
  it('named by its id, its description the default export; no method file imports what lists the methods', async () => {
    const { DESCRIPTIONS } = await import('../../src/attribution/generated/method-list.ts');
    const files = readdirSync(join(ROOT, 'methods')).filter((f) => f.endsWith('.ts'));
    expect(DESCRIPTIONS.map((d) => d.id)).toEqual(files.map((f) => f.slice(0, -3)).sort());
    const graph = importGraph();
    const listers = ['registry.ts', 'generated/method-list.ts'].map((f) => join(ROOT, f));
    for (const file of files)
      expect(
        graph.get(join(ROOT, 'methods', file))!.filter((t) => listers.includes(t)),
        file,
      ).toEqual([]);
  });
});
