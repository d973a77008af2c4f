import { GradlensError, metrics, type LensModel } from '../src/index.ts';
import { asGradlensError } from './explain-controller.ts';

// The curve widget's data and geometry. No DOM: runnable in Node.

/** One line of a curve chart: a score at each fraction of features removed or inserted. */
export interface CurveSeries {
  label: string;
  /** Fractions in [0, 1], increasing. */
  fractions: ArrayLike<number>;
  scores: ArrayLike<number>;
  /** Area under the curve; computed by the trapezoidal rule when absent. */
  auc?: number;
}

export type CurveMode = 'deletion' | 'insertion';

/** Area under (fraction, score) points by the metrics' trapezoidal rule; fractions need not be equally spaced. */
export function areaUnder(fractions: ArrayLike<number>, scores: ArrayLike<number>): number {
  const n = Math.min(fractions.length, scores.length);
  return n < 2 ? 0 : metrics.trapezoid(Array.from(scores).slice(0, n), fractions);
}

export const aucOf = (series: CurveSeries): number => series.auc ?? areaUnder(series.fractions, series.scores);

/** The y range drawn: [0, 1] for probabilities, widened to take in any score outside it (logits). */
export function scoreDomain(series: readonly CurveSeries[]): [number, number] {
  let [low, high] = [0, 1];
  for (const s of series) {
    for (let k = 0; k < s.scores.length; k++) {
      const v = s.scores[k]!;
      if (Number.isFinite(v)) [low, high] = [Math.min(low, v), Math.max(high, v)];
    }
  }
  return [low, high];
}

export interface Frame {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The SVG path of one series in `frame`: fraction 0 at the left edge, the domain's top at the top edge. */
export function pathOf(series: CurveSeries, frame: Frame, [low, high]: [number, number]): string {
  const n = Math.min(series.fractions.length, series.scores.length);
  const parts: string[] = [];
  for (let k = 0; k < n; k++) {
    const x = frame.x + series.fractions[k]! * frame.width;
    const y = frame.y + (1 - (series.scores[k]! - low) / (high - low || 1)) * frame.height;
    parts.push(`${k === 0 ? 'M' : 'L'}${round(x)} ${round(y)}`);
  }
  return parts.join(' ');
}

const round = (v: number) => Math.round(v * 100) / 100;

export type CurveRequest = Omit<metrics.CurveOptions, 'mode'> & { modes: readonly CurveMode[] };

/** Deletion and/or insertion curves of one input and its attribution, on the model's own device and weights. */
export async function computeCurves(model: LensModel, input: Float32Array, attribution: Float32Array, request: CurveRequest): Promise<CurveSeries[]> {
  const { modes, ...options } = request;
  if (input.length !== attribution.length)
    throw new GradlensError('BAD_INPUT', `the input has ${input.length} values and the attribution ${attribution.length}`);
  try {
    const series: CurveSeries[] = [];
    for (const mode of modes) {
      const curve = await metrics.perturbationCurve(model, input, attribution, 1, { ...options, mode });
      series.push({ label: mode, fractions: curve.fractions, scores: curve.scores, auc: curve.auc[0]! });
    }
    return series;
  } catch (error) {
    throw asGradlensError(error);
  }
}

/** "deletion: AUC 0.12, score 0.98 → 0.03" for each series, for screen readers. */
export function curveSummary(series: readonly CurveSeries[], format: (v: number) => string): string {
  if (series.length === 0) return 'no curve yet';
  return series
    .map((s) => {
      const n = Math.min(s.fractions.length, s.scores.length);
      return `${s.label}: AUC ${format(aucOf(s))}, score ${format(s.scores[0]!)} at ${pct(s.fractions[0]!)} to ${format(s.scores[n - 1]!)} at ${pct(s.fractions[n - 1]!)}`;
    })
    .join('; ');
}

export const pct = (fraction: number) => `${Math.round(100 * fraction)} %`;
