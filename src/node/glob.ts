import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

const MAGIC = /[*?[]/;

/** True when a path holds a glob pattern (`*`, `?`, `[...]`, `**`). */
export function isGlob(pattern: string): boolean {
  return MAGIC.test(pattern);
}

/**
 * Files matching a glob, sorted: `*` and `?` within one path segment, `[...]` a character class, `**` any number of
 * segments. Written here because Node 20 has no fs.glob and the CLI keeps its dependencies to what it ships.
 */
export async function glob(pattern: string): Promise<string[]> {
  const segments = pattern.split(/[\\/]/);
  const firstMagic = segments.findIndex((s) => isGlob(s));
  const root = segments.slice(0, firstMagic).join('/') || (pattern.startsWith('/') ? '/' : '.');
  const regex = toRegex(segments.slice(firstMagic).join('/'));
  const found: string[] = [];
  for (const relative of await walk(root, '')) if (regex.test(relative)) found.push(root === '.' && !pattern.startsWith('./') ? relative : join(root, relative));
  return found.sort();
}

function toRegex(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` matches zero or more whole segments; a trailing `**` matches anything below.
      source += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += pattern[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) source += '\\[';
      else {
        source += `[${pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else source += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

async function walk(root: string, prefix: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(join(root, prefix), { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const entry of entries) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await walk(root, relative)));
    else if (entry.isFile()) out.push(relative);
  }
  return out;
}
