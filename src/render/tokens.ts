/** How a token is shaded by its attribution, the same in <gradlens-text> and the HTML report. No DOM. */
export interface TokenShade {
  token: string;
  value: number;
  /** |value| over the largest |value| of the text, in [0, 1]: the colour's strength (0 where every value is 0). */
  strength: number;
  /** 1 towards the target (the positive colour), −1 against it (the negative colour), 0 neither. */
  sign: 1 | -1 | 0;
}

/** Each token's shade on one symmetric scale, ±(largest |value|), so tokens of either sign compare. */
export function tokenShades(tokens: readonly string[], values: ArrayLike<number>): TokenShade[] {
  const peak = tokenPeak(values);
  return Array.from(values, (value, i) => {
    const finite = Number.isFinite(value) ? value : 0;
    return { token: tokens[i] ?? `#${i}`, value, strength: peak > 0 ? Math.abs(finite) / peak : 0, sign: finite > 0 ? 1 : finite < 0 ? -1 : 0 };
  });
}

/** The end of the symmetric colour scale: the largest finite |value|. */
export function tokenPeak(values: ArrayLike<number>): number {
  let peak = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]!)) peak = Math.max(peak, Math.abs(values[i]!));
  return peak;
}
