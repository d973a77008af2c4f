import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/node/common-options.ts';
import { parseTarget } from '../../src/node/target-flag.ts';

const noMask = (file: string): Float32Array => {
  throw new Error(`read ${file}`);
};

describe('--target', () => {
  it('a class, or top1', () => {
    expect(parseTarget('top1', noMask)).toBe('top1');
    expect(parseTarget('7', noMask)).toBe(7);
  });

  it('a time step and class of a sequence output', () => {
    expect(parseTarget('step=5,class=123', noMask)).toEqual({ step: 5, class: 123 });
    expect(parseTarget('class=top1,step=0', noMask)).toEqual({ step: 0, class: 'top1' });
  });

  it('a region of a dense map, with or without a channel', () => {
    expect(parseTarget('region=1,2,30,40', noMask)).toEqual({ region: [1, 2, 30, 40] });
    expect(parseTarget('region=0,0,8,8,channel=2', noMask)).toEqual({ region: [0, 0, 8, 8], channel: 2 });
  });

  it('a mask read from the file named', () => {
    const weights = Float32Array.of(0, 1, 1);
    expect(parseTarget('mask=road.npy', (file) => (file === 'road.npy' ? weights : noMask(file)))).toEqual({ mask: weights });
  });

  for (const [text, message] of [
    ['step=5', /must be top1, a class index, step=T,class=K/],
    ['step=-1,class=3', /step must be a non-negative integer, got "-1"/],
    ['step=2,class=x', /class must be a non-negative integer, got "x"/],
    ['step=1,class=2,extra=3', /must be top1/],
    ['region=1,2,3', /needs X0,Y0,X1,Y1/],
    ['region=1,2,3,4,5', /needs X0,Y0,X1,Y1/],
    ['region=1,2,a,4', /X1 must be a non-negative integer, got "a"/],
    ['region=0,0,2,2,channel=-1', /channel must be a non-negative integer/],
    ['-3', /must be top1/],
    ['top2', /must be top1/],
  ] as const) {
    it(`refuses "${text}" as a usage error naming the fault`, () => {
      expect(() => parseTarget(text, noMask)).toThrow(UsageError);
      expect(() => parseTarget(text, noMask)).toThrow(message);
    });
  }
});
