import { describe, expect, it } from 'vitest';
import { colormap, COLORMAPS, legendStops } from '../../src/render/index.ts';
import { colormapTable } from '../../src/render/colormaps.ts';

// Published entries of matplotlib's 256-entry tables (_cm_listed.py: _viridis_data, _turbo_data), as floats.
const VIRIDIS: [number, [number, number, number]][] = [
  [0, [0.267004, 0.004874, 0.329415]],
  [64, [0.229739, 0.322361, 0.545706]],
  [128, [0.127568, 0.566949, 0.550556]],
  [192, [0.369214, 0.788888, 0.382914]],
  [255, [0.993248, 0.906157, 0.143936]],
];
const TURBO: [number, [number, number, number]][] = [
  [0, [0.18995, 0.07176, 0.23217]],
  [64, [0.15844, 0.73551, 0.92305]],
  [128, [0.64362, 0.98999, 0.23356]],
  [192, [0.9836, 0.49291, 0.12849]],
  [255, [0.4796, 0.01583, 0.01055]],
];
const bytes = (rgb: readonly number[]) => rgb.map((c) => Math.round(c * 255));

describe('colormaps', () => {
  it('viridis matches matplotlib at its ends, quarters and middle (rounded to bytes)', () => {
    // t = i/256 picks entry i exactly (matplotlib's ⌊N·t⌋), and t = 1 the last.
    for (const [i, rgb] of VIRIDIS) expect(colormap('viridis', i === 255 ? 1 : i / 256), `entry ${i}`).toEqual(bytes(rgb));
    // The hex codes viridis is usually quoted by: #440154, #21918c, #fde725.
    expect(colormap('viridis', 0.5)).toEqual([0x21, 0x91, 0x8c]);
  });

  it('turbo matches the published table at its ends, quarters and middle', () => {
    for (const [i, rgb] of TURBO) expect(colormap('turbo', i === 255 ? 1 : i / 256), `entry ${i}`).toEqual(bytes(rgb));
  });

  it('rdbu-r runs from ColorBrewer RdBu blue (#053061) through near-white to red (#67001f)', () => {
    expect(colormap('rdbu-r', 0)).toEqual([0x05, 0x30, 0x61]);
    expect(colormap('rdbu-r', 1)).toEqual([0x67, 0x00, 0x1f]);
    // Entry 128 sits at x = 128/255, 2% of the way from #f7f7f7 to #fddbc7: within one level of #f7f7f7 per channel.
    for (const c of colormap('rdbu-r', 0.5)) expect(Math.abs(c - 0xf7)).toBeLessThanOrEqual(1);
    // Entries 51 and 204 sit at x = 0.2 and 0.8 exactly, on the stops #4393c3 and #d6604d.
    expect(colormap('rdbu-r', 51 / 256)).toEqual([0x43, 0x93, 0xc3]);
    expect(colormap('rdbu-r', 204 / 256)).toEqual([0xd6, 0x60, 0x4d]);
  });

  it('gray is the identity on bytes', () => {
    for (const i of [0, 1, 100, 254, 255]) expect(colormap('gray', i / 256)).toEqual([i, i, i]);
  });

  it('clamps t outside [0, 1] and reads NaN as 0', () => {
    expect(colormap('viridis', -3)).toEqual(colormap('viridis', 0));
    expect(colormap('viridis', 7)).toEqual(colormap('viridis', 1));
    expect(colormap('viridis', Number.NaN)).toEqual(colormap('viridis', 0));
  });

  it('packs tables as RGBA8 in u32 with R in the low byte and opaque alpha', () => {
    for (const name of COLORMAPS) {
      const table = colormapTable(name);
      expect(table.length).toBe(256);
      const view = new Uint8Array(table.buffer);
      expect([...view.subarray(0, 3)]).toEqual(colormap(name, 0));
      expect(view.filter((_, k) => k % 4 === 3).every((a) => a === 255)).toBe(true);
    }
  });

  it('viridis lightness rises monotonically (its design goal), by Rec. 709 luma as a proxy', () => {
    const luma = Array.from({ length: 256 }, (_, i) => {
      const [r, g, b] = colormap('viridis', i / 256);
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    });
    // Bytes are rounded, so neighbours may tie or dip by rounding; over 8 entries it always rises.
    for (let i = 8; i < 256; i++) expect(luma[i]!).toBeGreaterThan(luma[i - 8]!);
  });

  it('legend stops are evenly spaced, carry the range values and hex colours', () => {
    const stops = legendStops('viridis', 3, [-2, 6]);
    expect(stops).toEqual([
      { offset: 0, value: -2, color: '#440154' },
      { offset: 0.5, value: 2, color: '#21918c' },
      { offset: 1, value: 6, color: '#fde725' },
    ]);
    expect(() => legendStops('viridis', 1)).toThrow(/n must be an integer ≥ 2/);
    expect(() => colormap('jet' as never, 0)).toThrow(/unknown colormap "jet"/);
  });
});
