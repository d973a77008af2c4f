import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// custom-elements.json ships with the package: it must say what the widgets' sources say now.
const ROOT = new URL('../../', import.meta.url).pathname;

describe('custom-elements.json', () => {
  it('is what `npm run analyze` makes of the current sources (run it after changing a widget)', () => {
    const analyzer = `${ROOT}node_modules/@custom-elements-manifest/analyzer/cem.js`;
    execFileSync(process.execPath, [analyzer, 'analyze', '--outdir', 'test-output/manifest'], { cwd: ROOT, stdio: 'pipe' });
    const fresh = readFileSync(`${ROOT}test-output/manifest/custom-elements.json`, 'utf8');
    expect(JSON.parse(readFileSync(`${ROOT}custom-elements.json`, 'utf8'))).toEqual(JSON.parse(fresh));
  });
});
