import { GradlensError } from '../gpu/errors.ts';

/** A box in pixels: columns [x0, x1) and rows [y0, y1). */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** A height × width mask, 1 inside the box. */
export function boxMask(box: Box, height: number, width: number): Uint8Array {
  const mask = new Uint8Array(height * width);
  for (let r = Math.max(0, box.y0); r < Math.min(height, box.y1); r++)
    mask.fill(1, r * width + Math.max(0, box.x0), r * width + Math.min(width, box.x1));
  return mask;
}

/** A [C, H, W] attribution summed over channels to one value per pixel (a plain vector stays as it is). */
export function pixelMap(attribution: ArrayLike<number>, pixels: number): Float64Array {
  if (attribution.length % pixels !== 0)
    throw new GradlensError('BAD_INPUT', `an attribution of ${attribution.length} values is not channels × ${pixels} pixels`);
  const map = new Float64Array(pixels);
  for (let e = 0; e < attribution.length; e++) map[e % pixels]! += attribution[e]!;
  return map;
}

/** Pointing game (Zhang 2018): whether the most relevant pixel lies in the mask (first maximum on ties). */
export function pointingGame(attribution: ArrayLike<number>, mask: ArrayLike<number>): boolean {
  const map = pixelMap(attribution, mask.length);
  let best = 0;
  for (let p = 1; p < map.length; p++) if (map[p]! > map[best]!) best = p;
  return mask[best]! !== 0;
}

/** Relevance mass accuracy (Arras 2022): the share of positive relevance that falls inside the mask. */
export function relevanceMass(attribution: ArrayLike<number>, mask: ArrayLike<number>): number {
  const map = pixelMap(attribution, mask.length);
  let inside = 0;
  let total = 0;
  for (let p = 0; p < map.length; p++) {
    const positive = Math.max(0, map[p]!);
    total += positive;
    if (mask[p]) inside += positive;
  }
  return total === 0 ? 0 : inside / total;
}

/** Relevance rank accuracy (Arras 2022): of the K most relevant pixels, K the mask's size, the share inside it. */
export function relevanceRank(attribution: ArrayLike<number>, mask: ArrayLike<number>): number {
  const map = pixelMap(attribution, mask.length);
  let size = 0;
  for (let p = 0; p < mask.length; p++) if (mask[p]) size++;
  if (size === 0) return 0;
  const top = Array.from({ length: map.length }, (_, p) => p)
    .sort((p, q) => map[q]! - map[p]! || p - q)
    .slice(0, size);
  return top.filter((p) => mask[p]).length / size;
}

/**
 * One height × width mask per input from boxes given per input: each entry a box or a list of boxes (their union),
 * as a list in input order or an object keyed by input name.
 */
export function boxMasks(entries: unknown, names: readonly string[], height: number, width: number): Uint8Array[] {
  const isBox = (b: unknown): b is Box =>
    typeof b === 'object' && b !== null && ['x0', 'y0', 'x1', 'y1'].every((k) => Number.isFinite((b as Record<string, unknown>)[k]));
  const lookup = (i: number): unknown => {
    if (Array.isArray(entries)) return entries[i];
    if (typeof entries === 'object' && entries !== null) {
      const byName = entries as Record<string, unknown>;
      return byName[names[i]!] ?? byName[names[i]!.split('/').pop()!];
    }
    return undefined;
  };
  if (Array.isArray(entries) && entries.length !== names.length)
    throw new GradlensError('BAD_INPUT', `${entries.length} box entries for ${names.length} inputs`);
  return names.map((name, i) => {
    const entry = lookup(i);
    const boxes = Array.isArray(entry) ? entry : [entry];
    if (entry === undefined || !boxes.every(isBox))
      throw new GradlensError('BAD_INPUT', `no box {x0, y0, x1, y1} (or list of boxes) for input ${name}`);
    const mask = new Uint8Array(height * width);
    for (const box of boxes) boxMask(box, height, width).forEach((v, p) => (mask[p] ||= v));
    return mask;
  });
}
