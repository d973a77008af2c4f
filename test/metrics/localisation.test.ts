import { describe, expect, it } from 'vitest';
import { boxMasks } from '../../src/metrics/localisation.ts';

describe('boxes per input', () => {
  it('a list in input order gives each input its box, a list of boxes their union', () => {
    const [first, second] = boxMasks(
      [
        { x0: 1, y0: 0, x1: 3, y1: 1 },
        [
          { x0: 0, y0: 0, x1: 1, y1: 1 },
          { x0: 2, y0: 1, x1: 3, y1: 2 },
        ],
      ],
      ['a', 'b'],
      2,
      3,
    );
    expect(Array.from(first!)).toEqual([0, 1, 1, 0, 0, 0]);
    expect(Array.from(second!)).toEqual([1, 0, 0, 0, 0, 1]);
  });

  it('an object is keyed by the input name or its file name', () => {
    const [mask] = boxMasks({ 'x.png': { x0: 0, y0: 1, x1: 2, y1: 2 } }, ['/data/x.png'], 2, 2);
    expect(Array.from(mask!)).toEqual([0, 0, 1, 1]);
  });

  it('a missing box or a list of the wrong length is refused', () => {
    expect(() => boxMasks({}, ['a.png'], 2, 2)).toThrow(/no box .* for input a.png/);
    expect(() => boxMasks([{ x0: 0, y0: 0, x1: 1, y1: 1 }], ['a', 'b'], 2, 2)).toThrow(/1 box entries for 2 inputs/);
  });
});
