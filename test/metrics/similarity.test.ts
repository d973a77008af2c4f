import { describe, expect, it } from 'vitest';
import { complexity, sparseness } from '../../src/metrics/complexity.ts';
import { boxMask, pointingGame, relevanceMass, relevanceRank } from '../../src/metrics/localisation.ts';
import { ranks, spearman, ssim } from '../../src/metrics/similarity.ts';

describe('Spearman rank correlation', () => {
  it('matches the textbook IQ / hours of TV example: ρ = −29/165', () => {
    // Wikipedia, "Spearman's rank correlation coefficient", worked example (Σd² = 194, n = 10).
    const iq = [106, 100, 86, 101, 99, 103, 97, 113, 112, 110];
    const tv = [7, 27, 2, 50, 28, 29, 20, 12, 6, 17];
    expect(spearman(iq, tv)).toBeCloseTo(-29 / 165, 12);
  });

  it('gives tied values the mean of their ranks', () => {
    expect(Array.from(ranks([10, 20, 20, 30]))).toEqual([1, 2.5, 2.5, 4]);
  });

  it('is 1 for any increasing transform and −1 for a decreasing one', () => {
    const a = [0.3, -2, 5, 1, 0];
    expect(
      spearman(
        a,
        a.map((v) => Math.exp(v)),
      ),
    ).toBeCloseTo(1, 12);
    expect(
      spearman(
        a,
        a.map((v) => -(v ** 3)),
      ),
    ).toBeCloseTo(-1, 12);
  });
});

describe('SSIM', () => {
  it('of an image with itself is 1', () => {
    const image = Array.from({ length: 100 }, (_, k) => Math.sin(k));
    expect(ssim(image, image, 10, 10)).toBeCloseTo(1, 12);
  });

  it('of one 7×7 window and its double follows Wang 2004 Eq. 13 with sample statistics', () => {
    // x = k/48, k = 0 … 48: mean 1/2, sample variance (49·50/12)/48²; y = 2x: mean 1, variance 4σ², covariance 2σ².
    const x = Array.from({ length: 49 }, (_, k) => k / 48);
    const y = x.map((v) => 2 * v);
    const variance = (49 * 50) / 12 / 48 ** 2;
    const [c1, c2] = [0.01 ** 2, 0.03 ** 2]; // data range 1
    const expected = ((2 * 0.5 * 1 + c1) * (2 * 2 * variance + c2)) / ((0.25 + 1 + c1) * (variance + 4 * variance + c2));
    expect(ssim(x, y, 7, 7, { dataRange: 1 })).toBeCloseTo(expected, 10);
  });

  it('averages the windows that lie wholly inside the image', () => {
    // 7×8: two windows; the left one sees a constant-free ramp identical in both, the right one differs.
    const a = Array.from({ length: 56 }, (_, k) => (k % 8) / 7);
    const b = a.map((v, k) => (k % 8 === 7 ? 0 : v));
    const left = ssim(
      a.filter((_, k) => k % 8 < 7),
      b.filter((_, k) => k % 8 < 7),
      7,
      7,
      { dataRange: 1 },
    );
    const right = ssim(
      a.filter((_, k) => k % 8 > 0),
      b.filter((_, k) => k % 8 > 0),
      7,
      7,
      { dataRange: 1 },
    );
    expect(ssim(a, b, 7, 8, { dataRange: 1 })).toBeCloseTo((left + right) / 2, 12);
    expect(left).toBeCloseTo(1, 12);
  });
});

describe('complexity', () => {
  it('Gini sparseness of a single spike among n is (n − 1)/n, of a uniform map 0', () => {
    expect(sparseness([0, 0, 0, 1])).toBeCloseTo(3 / 4, 12);
    expect(sparseness([2, -2, 2, 2])).toBeCloseTo(0, 12);
  });

  it('Gini sparseness of |a| = 1, 2, 3 is 2/9', () => {
    // Σ (2k − n − 1) a_k / (n Σ a) = (−2·1 + 0·2 + 2·3) / (3·6).
    expect(sparseness([3, -1, 2])).toBeCloseTo(4 / 18, 12);
  });

  it('entropy complexity is log n for a uniform map and 0 for a spike', () => {
    expect(complexity([1, -1, 1, -1])).toBeCloseTo(Math.log(4), 12);
    expect(complexity([0, 5, 0])).toBe(0);
  });

  it('entropy of contributions 1/2, 1/4, 1/4 is (3/2) ln 2', () => {
    expect(complexity([2, 1, -1])).toBeCloseTo(1.5 * Math.log(2), 12);
  });
});

describe('localisation', () => {
  // A 3×3 map; the box covers the top-left 2×2.
  const mask = boxMask({ x0: 0, y0: 0, x1: 2, y1: 2 }, 3, 3);
  const map = [5, 1, 0, 2, -3, 0, 0, 4, 1];

  it('a box becomes a mask of its rows and columns', () => {
    expect(Array.from(mask)).toEqual([1, 1, 0, 1, 1, 0, 0, 0, 0]);
  });

  it('the pointing game hits when the maximum is inside the mask and misses otherwise', () => {
    expect(pointingGame(map, mask)).toBe(true);
    expect(pointingGame([1, 1, 9, 0, 0, 0, 0, 0, 0], mask)).toBe(false);
  });

  it('relevance mass is the share of positive relevance inside the mask', () => {
    // Positive inside: 5 + 1 + 2 = 8; positive total: 8 + 4 + 1 = 13.
    expect(relevanceMass(map, mask)).toBeCloseTo(8 / 13, 12);
  });

  it('relevance rank is the share of the top-|mask| pixels inside the mask', () => {
    // Top 4: 5 (in), 4 (out), 2 (in), 1 at index 1 (in, first of the tied 1s).
    expect(relevanceRank(map, mask)).toBeCloseTo(3 / 4, 12);
  });

  it('channels are summed before a pixel is compared', () => {
    const twoChannels = [...map, ...map.map((v, p) => (p === 8 ? 20 : 0))];
    expect(pointingGame(twoChannels, mask)).toBe(false);
  });
});
