/**
 * The option schemas methods share, and the one place options get their defaults and checks: a method's run sees its
 * options complete (every schema default filled in) and in range, whoever called it (explain, NoiseGrad, the tunnel).
 */
import { GradlensError } from '../gpu/errors.ts';
import { INTEGRATION_RULES } from './quadrature.ts';
import type { ExplainOptions, MethodDescription, OptionKey, OptionSpec, OptionValue } from './types.ts';

export const integer = (doc: string, fallback?: number, min = 1): OptionSpec => ({ kind: 'integer', doc, min, ...defaultOf(fallback) });

export const number = (doc: string, fallback?: number, range: Pick<OptionSpec, 'min' | 'max' | 'openLow'> = {}): OptionSpec => ({
  kind: 'number',
  doc,
  ...range,
  ...defaultOf(fallback),
});

export const boolean = (doc: string, fallback: boolean): OptionSpec => ({ kind: 'boolean', doc, default: fallback });

export const choice = (doc: string, choices: readonly string[], fallback?: string): OptionSpec => ({
  kind: 'choice',
  doc,
  choices,
  ...defaultOf(fallback),
});

const defaultOf = (value: OptionValue | undefined) => (value === undefined ? {} : { default: value });

/** Path steps, with the default of the method's reference implementation. */
export const steps = (fallback: number | undefined, source: string) => integer(`points on the path (${source})`, fallback);

/** Where a straight path starts (Sturmfels et al. 2020 compare them). */
export const BASELINE: OptionSpec = {
  kind: 'baseline',
  doc: 'where the path starts: zeros, uniform, {constant}, {blur: σ} or a tensor',
  default: 'zeros',
};

/** The noise of SmoothGrad and of a noise tunnel: PAIR saliency's SmoothGrad defaults, written once. */
export const NOISE = {
  samples: integer('noisy samples per input (PAIR saliency)', 25),
  stdev: number('σ of the noise, absolute (wins over stdevFraction)', undefined, { min: 0 }),
  stdevFraction: number("σ of the noise as a fraction of each input's max − min (PAIR saliency)", 0.15, { min: 0 }),
} as const satisfies Partial<Record<OptionKey, OptionSpec>>;

/** The tunnel every tunnel-able method takes: which reduction, and its noise. */
export const TUNNEL = {
  noiseTunnel: choice('wrap the method in a noise tunnel (Captum NoiseTunnel): mean, mean of squares, variance', [
    'smoothgrad',
    'smoothgrad-sq',
    'vargrad',
  ]),
  ...NOISE,
} as const satisfies Partial<Record<OptionKey, OptionSpec>>;

/** σ given absolutely or as a fraction: the caller's choice of one turns off the other's default. */
const NOISE_SCALE: readonly OptionKey[] = ['stdev', 'stdevFraction'];

export const INTEGRATION_RULE = choice("quadrature along the path (Captum's `method`)", INTEGRATION_RULES, 'gausslegendre');

/** Every option a method reads, the tunnel's included when it takes one. */
export function optionsOf(description: MethodDescription): Partial<Record<OptionKey, OptionSpec>> {
  return description.capabilities.tunnel === 'none' ? description.options : { ...TUNNEL, ...description.options };
}

/** The method's options complete and checked: schema defaults filled where the caller gave nothing. */
export function withDefaults(description: MethodDescription, options: ExplainOptions): ExplainOptions {
  const filled: Record<string, unknown> = { ...options };
  const scaleGiven = NOISE_SCALE.some((key) => options[key] !== undefined);
  for (const [key, spec] of Object.entries(optionsOf(description)) as [OptionKey, OptionSpec][]) {
    const value = options[key];
    if (value === undefined) {
      if (spec.default !== undefined && !(scaleGiven && NOISE_SCALE.includes(key))) filled[key] = spec.default;
      continue;
    }
    check(key, spec, value);
  }
  return filled as unknown as ExplainOptions;
}

function check(key: string, spec: OptionSpec, value: unknown): void {
  const fail = (what: string) => {
    throw new GradlensError('BAD_PARAMS', `${key} must be ${what}, got ${JSON.stringify(value)}`);
  };
  if (spec.kind === 'integer' && !(Number.isInteger(value) && (value as number) >= (spec.min ?? -Infinity))) fail(`an integer ≥ ${spec.min}`);
  if (spec.kind === 'number') {
    const n = value as number;
    const low = spec.min ?? -Infinity;
    const high = spec.max ?? Infinity;
    if (!(typeof n === 'number' && Number.isFinite(n) && (spec.openLow ? n > low : n >= low) && n <= high))
      fail(`a number in ${spec.openLow ? '(' : '['}${low}, ${high}]`);
  }
  if (spec.kind === 'boolean' && typeof value !== 'boolean') fail('true or false');
  if (spec.kind === 'choice' && !spec.choices!.includes(value as string)) fail(`one of ${spec.choices!.join(', ')}`);
}
