import { describe, expect, it } from 'vitest';
import { outputStem } from '../../src/node/explain-outputs.ts';

describe('output names', () => {
  it('gives inputs whose names differ only in characters a file name cannot keep different stems', () => {
    const ids = ['data/a b.png', 'data/a_b.png', 'data/a+b.png', 'data/a%b.png', 'data/a b.jpg', 'data/a_b.npy', 'data/a b.csv#1', 'data/a_b.csv#1'];
    expect(new Set(ids.map(outputStem)).size).toBe(ids.length);
  });

  it('keeps the name readable, without the input extension (no x.png.png)', () => {
    const stem = outputStem('samples/digits/3_0000.png');
    expect(stem).toMatch(/^samples_digits_3_0000-[0-9a-f]{12}$/);
    expect(outputStem('samples/tabular.csv#7')).toMatch(/^samples_tabular_row7-[0-9a-f]{12}$/);
  });

  it('is stable: the same id always gives the same stem', () => {
    expect(outputStem('x/y.png')).toBe(outputStem('x/y.png'));
  });

  it('stays short for a very long path, and never climbs out of the folder', () => {
    const stem = outputStem(`../../${'d/'.repeat(300)}x.png`);
    expect(stem.length).toBeLessThan(100);
    expect(stem).not.toMatch(/\//);
    expect(outputStem('/etc/passwd')).toMatch(/^etc_passwd-/);
  });
});
