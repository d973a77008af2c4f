/** Pearson's correlation coefficient; NaN when either side is constant. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let meanA = 0;
  let meanB = 0;
  for (let k = 0; k < n; k++) ((meanA += a[k]!), (meanB += b[k]!));
  meanA /= n;
  meanB /= n;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let k = 0; k < n; k++) {
    const [da, db] = [a[k]! - meanA, b[k]! - meanB];
    ab += da * db;
    aa += da * da;
    bb += db * db;
  }
  return ab / Math.sqrt(aa * bb);
}

/** Ranks 1 … n, ties given the mean of the ranks they span (as scipy.stats.rankdata). */
export function ranks(values: ArrayLike<number>): Float64Array {
  const order = Array.from({ length: values.length }, (_, k) => k).sort((p, q) => values[p]! - values[q]!);
  const result = new Float64Array(values.length);
  for (let start = 0; start < order.length;) {
    let end = start + 1;
    while (end < order.length && values[order[end]!] === values[order[start]!]) end++;
    for (let k = start; k < end; k++) result[order[k]!] = (start + end + 1) / 2;
    start = end;
  }
  return result;
}

/** Spearman's rank correlation: Pearson's of the ranks (scipy.stats.spearmanr). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return pearson(ranks(a), ranks(b));
}

export interface SsimOptions {
  /** Side of the square window (default 7, clipped to the image); `dataRange` default: the range of `a`. */
  window?: number;
  dataRange?: number;
}

/**
 * Mean structural similarity (Wang 2004) of two height × width images, as skimage.metrics.structural_similarity with
 * its defaults: uniform window, sample covariance, K1 0.01, K2 0.03, averaged over windows wholly inside the image.
 */
export function ssim(a: ArrayLike<number>, b: ArrayLike<number>, height: number, width: number, options: SsimOptions = {}): number {
  const winH = Math.min(options.window ?? 7, height);
  const winW = Math.min(options.window ?? 7, width);
  let range = options.dataRange;
  if (range === undefined) {
    let [low, high] = [Infinity, -Infinity];
    for (let k = 0; k < height * width; k++) ((low = Math.min(low, a[k]!)), (high = Math.max(high, a[k]!)));
    range = high - low;
  }
  const c1 = (0.01 * range) ** 2;
  const c2 = (0.03 * range) ** 2;
  const n = winH * winW;
  const unbiased = n > 1 ? n / (n - 1) : 1;
  let total = 0;
  let windows = 0;
  for (let r = 0; r + winH <= height; r++) {
    for (let c = 0; c + winW <= width; c++) {
      let [sa, sb, saa, sbb, sab] = [0, 0, 0, 0, 0];
      for (let i = r; i < r + winH; i++) {
        for (let j = c; j < c + winW; j++) {
          const [x, y] = [a[i * width + j]!, b[i * width + j]!];
          sa += x;
          sb += y;
          saa += x * x;
          sbb += y * y;
          sab += x * y;
        }
      }
      const [ma, mb] = [sa / n, sb / n];
      const va = unbiased * (saa / n - ma * ma);
      const vb = unbiased * (sbb / n - mb * mb);
      const cov = unbiased * (sab / n - ma * mb);
      total += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
      windows++;
    }
  }
  return total / windows;
}
