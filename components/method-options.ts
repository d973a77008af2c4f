import {
  defaultOf,
  hasOption,
  METHOD_IDS,
  type Baseline,
  type MethodId,
  type OptionKey,
  type OptionSpec,
  type OutputTarget,
  type Target,
} from '../src/index.ts';
import { optionsOf as specsOf } from '../src/attribution/options.ts';
import { METHODS } from '../src/attribution/registry.ts';
import type { RunOptions } from './explain-controller.ts';

// Which of the main options each method reads, from the method descriptions, so a picker shows only those. No DOM.

export { METHOD_IDS };

/** The baselines a picker offers (a tensor or a constant needs code, not a picker). */
export const BASELINE_NAMES = ['zeros', 'uniform', 'blur'] as const;
export type BaselineName = (typeof BASELINE_NAMES)[number];

export interface MainOptions {
  method: MethodId;
  steps?: number | undefined;
  samples?: number | undefined;
  /** σ of the noise as a fraction of the input's range (absolute σ for GradientSHAP). */
  noise?: number | undefined;
  baseline?: BaselineName | undefined;
  layer?: string | undefined;
  /** A class index, or a step/region target of a sequence or dense output ({step, class} / {region: [x0, y0, x1, y1]}). */
  target?: Target | undefined;
  seed?: number | undefined;
  /** Points per GPU chunk; progress is reported and cancellation checked between chunks. */
  chunkSize?: number | undefined;
  /** Any other option of the method, by its key (LRP's `composite`, `absolute`, `neuron`, …), as explain() takes it. */
  options?: Readonly<Record<string, MethodOptionValue>> | undefined;
}

/** A method option's value as an input gives it back: a number, a flag, a choice, or an index (neuron). */
export type MethodOptionValue = number | boolean | string | readonly number[];

/** The input an option kind gets: a picker, a number field, a checkbox, or comma-separated integers. */
export type InputKind = 'select' | 'number' | 'checkbox' | 'index';
const INPUT_OF: Partial<Record<OptionSpec['kind'], InputKind>> = {
  choice: 'select',
  integer: 'number',
  number: 'number',
  boolean: 'checkbox',
  index: 'index',
};

/** Options the main inputs show where the method itself reads them (steps, samples, noise, baseline, layer, baselines). */
const MAIN_KEYS: ReadonlySet<string> = new Set(['steps', 'samples', 'stdev', 'stdevFraction', 'baseline', 'layer', 'baselines']);

export interface OptionInput {
  key: OptionKey;
  spec: OptionSpec;
  input: InputKind;
}

/** The inputs of a method's other options, generated from its option specs (its tunnel's included), in spec order. */
export function optionInputs(method: string): OptionInput[] {
  if (!METHOD_IDS.includes(method as MethodId)) return [];
  return (Object.entries(specsOf(METHODS[method as MethodId])) as [OptionKey, OptionSpec][]).flatMap(([key, spec]) => {
    const input = INPUT_OF[spec.kind];
    const main = MAIN_KEYS.has(key) && hasOption(method as MethodId, key); // a tunnel's samples and σ get inputs here
    return input && !main ? [{ key, spec, input }] : [];
  });
}

/** `options` with `key` set to `value`, or without it where `value` is undefined (the method's default). */
export function withOption(options: Readonly<Record<string, MethodOptionValue>>, key: string, value: MethodOptionValue | undefined) {
  const { [key]: _, ...rest } = options;
  return value === undefined ? rest : { ...rest, [key]: value };
}

/** An input's value read back as the option's type; undefined (the method's default) when empty or unreadable. */
export function parseOption(spec: OptionSpec, raw: string | boolean): MethodOptionValue | undefined {
  if (typeof raw === 'boolean') return raw;
  const text = raw.trim();
  if (text === '') return undefined;
  if (spec.kind === 'boolean') return text === 'true';
  if (spec.kind === 'choice') return spec.choices?.includes(text) ? text : undefined;
  if (spec.kind === 'index') {
    const index = text.split(',').map((part) => Number(part.trim()));
    return index.every(Number.isInteger) ? index : undefined;
  }
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/** Which option inputs a method shows: those of its own options (the noise is its σ, as a fraction where it takes one). */
export function optionsOf(method: string): { steps: boolean; samples: boolean; noise: boolean; baseline: boolean; layer: boolean } {
  const id = method as MethodId;
  if (!METHOD_IDS.includes(id)) return { steps: false, samples: false, noise: false, baseline: false, layer: false };
  const noise = hasOption(id, 'stdevFraction') || hasOption(id, 'stdev');
  return {
    steps: hasOption(id, 'steps'),
    samples: hasOption(id, 'samples'),
    noise,
    baseline: hasOption(id, 'baseline'),
    layer: hasOption(id, 'layer'),
  };
}

/** An option input's placeholder: the method's default, which an empty input leaves in force. */
export const placeholder = (method: MethodId, key: OptionKey): string => String(defaultOf(method, key) ?? '');

/**
 * The explain() options of the main options, only those the method reads. `input` supplies the defaults that depend
 * on it: a blur σ of an eighth of the image, and for expected gradients a baseline set of zeros and the input's mean.
 */
export function runOptions(main: MainOptions, input: Float32Array, inputShape: readonly number[], baselines?: Float32Array): RunOptions {
  const used = optionsOf(main.method);
  const options: RunOptions = { method: main.method };
  if (main.seed !== undefined) options.seed = main.seed;
  if (main.target !== undefined) options.target = main.target;
  if (main.chunkSize !== undefined) options.chunkSize = main.chunkSize;
  if (used.steps && main.steps !== undefined) options.steps = main.steps;
  if (used.samples && main.samples !== undefined) options.samples = main.samples;
  if (used.noise && main.noise !== undefined) {
    if (hasOption(main.method, 'stdevFraction')) options.stdevFraction = main.noise;
    else options.stdev = main.noise;
  }
  if (used.baseline && main.baseline) options.baseline = baselineOf(main.baseline, inputShape);
  if (used.layer && main.layer) options.layer = main.layer;
  for (const { key } of optionInputs(main.method)) {
    const value = main.options?.[key];
    if (value !== undefined) (options as unknown as Record<string, unknown>)[key] = value;
  }
  if (hasOption(main.method, 'baselines')) options.baselines = baselines ?? defaultBaselineSet(input);
  return options;
}

function baselineOf(name: BaselineName, shape: readonly number[]): Baseline {
  if (name === 'blur') return { blur: Math.max(1, Math.max(...shape.slice(-2)) / 8) };
  return name;
}

function defaultBaselineSet(input: Float32Array): Float32Array {
  const mean = input.reduce((a, b) => a + b, 0) / input.length;
  const set = new Float32Array(2 * input.length);
  set.fill(mean, input.length);
  return set;
}

/** A `target` attribute read: a class index, or JSON for a step or region target; empty or unreadable: the top class. */
export function parseTarget(value: string | null): Target | undefined {
  const text = value?.trim() ?? '';
  if (text === '') return undefined;
  const n = Number(text);
  if (Number.isInteger(n)) return n;
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Target) : undefined;
  } catch {
    return undefined;
  }
}

/** Which output target an explanation used, in words: the step and class, or the region (undefined for a class). */
export function targetWords(used: readonly OutputTarget[] | undefined): string | undefined {
  const first = used?.[0];
  if (!first) return undefined;
  if ('step' in first) return `step ${first.step}, class ${first.class}`;
  if ('region' in first) return `region [${first.region.join(', ')}]${first.channel ? ` of channel ${first.channel}` : ''}`;
  return 'a mask';
}

/** Tensors a Grad-CAM layer may be: the outputs of Conv and of what follows it, in graph order. */
export function layerCandidates(nodes: readonly { op: string; outputs: readonly string[] }[]): string[] {
  return nodes.filter((n) => ['Conv', 'Relu', 'Add', 'BatchNormalization'].includes(n.op)).flatMap((n) => n.outputs);
}
