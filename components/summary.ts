import type { Explanation } from '../src/index.ts';
// Text for screen readers: what the overlay or the bars show, in words. No DOM.

const ROWS = ['upper', 'middle', 'lower'] as const;
const COLUMNS = ['left', 'centre', 'right'] as const;

/** |attribution| per pixel of a [C, H, W] (or [H, W]) map, summed over channels. */
function pixelMass(attribution: Float32Array, shape: readonly number[]): { mass: Float64Array; height: number; width: number } {
  const dims = shape.filter((n, i) => !(n === 1 && i < shape.length - 2));
  const [height, width] = [dims.at(-2) ?? 1, dims.at(-1) ?? attribution.length];
  const pixels = height * width;
  const mass = new Float64Array(pixels);
  for (let i = 0; i < attribution.length; i++) mass[i % pixels]! += Math.abs(attribution[i]!);
  return { mass, height, width };
}

/** The regions of a 3 × 3 grid holding the most attribution, e.g. "centre 48 %, upper centre 21 %". */
export function regionSummary(attribution: Float32Array, shape: readonly number[], regions = 2): string {
  const { mass, height, width } = pixelMass(attribution, shape);
  const cells = new Float64Array(9);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++)
      cells[Math.min(2, Math.floor((3 * y) / height)) * 3 + Math.min(2, Math.floor((3 * x) / width))]! += mass[y * width + x]!;
  }
  const total = cells.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return 'no attribution: every value is zero';
  const name = (cell: number) => {
    const [row, column] = [ROWS[Math.floor(cell / 3)]!, COLUMNS[cell % 3]!];
    return row === 'middle' ? (column === 'centre' ? 'centre' : `middle ${column}`) : `${row} ${column}`;
  };
  return [...cells.keys()]
    .sort((a, b) => cells[b]! - cells[a]!)
    .slice(0, regions)
    .map((cell) => `${name(cell)} ${Math.round((100 * cells[cell]!) / total)} %`)
    .join(', ');
}

export interface FeatureContribution {
  name: string;
  value: number;
  contribution: number;
}

/** Features sorted by |contribution|, largest first. */
export function rankFeatures(names: readonly string[], values: ArrayLike<number>, attribution: ArrayLike<number>): FeatureContribution[] {
  return Array.from(attribution, (contribution, i) => ({ name: names[i] ?? `feature ${i}`, value: values[i] ?? NaN, contribution })).sort(
    (a, b) => Math.abs(b.contribution) - Math.abs(a.contribution),
  );
}

/** "worst area raises it (+1.2), mean texture lowers it (−0.4)" for the top few. */
export function featureSummary(ranked: readonly FeatureContribution[], count = 3): string {
  if (ranked.length === 0) return 'no features';
  return ranked
    .slice(0, count)
    .map((f) => `${f.name} ${f.contribution >= 0 ? 'raises' : 'lowers'} it (${formatSigned(f.contribution)})`)
    .join(', ');
}

/** "for: good (+1.2), fun (+0.3); against: not (−0.4)": the tokens of largest |value| on each side. */
export function tokenSummary(shades: readonly { token: string; value: number }[], count = 3): string {
  const side = (sign: 1 | -1) =>
    shades
      .filter((s) => Math.sign(s.value) === sign)
      .sort((a, b) => Math.abs(b.value) - Math.abs(a.value))
      .slice(0, count)
      .map((s) => `${s.token} (${formatSigned(s.value)})`)
      .join(', ');
  const [towards, against] = [side(1), side(-1)];
  return (
    [towards && `most for it: ${towards}`, against && `most against it: ${against}`].filter(Boolean).join('; ') ||
    'no attribution: every value is zero'
  );
}

/** A number for people: 3 significant digits, a real minus sign. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const text = abs !== 0 && (abs < 1e-3 || abs >= 1e5) ? value.toExponential(2) : String(Number(value.toPrecision(3)));
  return text.replace('-', '−');
}

export function formatSigned(value: number): string {
  return value > 0 ? `+${formatNumber(value)}` : formatNumber(value);
}

/** What an explanation's values are attributions of: the target's logit, probability or log-probability. */
export function scoreUnits(explanation: Explanation): string {
  return String(explanation.options.score ?? 'logit');
}
