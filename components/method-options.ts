import { defaultOf, hasOption, METHOD_IDS, type Baseline, type MethodId, type OptionKey } from '../src/index.ts';
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
  target?: number | undefined;
  seed?: number | undefined;
  /** Points per GPU chunk; progress is reported and cancellation checked between chunks. */
  chunkSize?: number | undefined;
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

/** Tensors a Grad-CAM layer may be: the outputs of Conv and of what follows it, in graph order. */
export function layerCandidates(nodes: readonly { op: string; outputs: readonly string[] }[]): string[] {
  return nodes.filter((n) => ['Conv', 'Relu', 'Add', 'BatchNormalization'].includes(n.op)).flatMap((n) => n.outputs);
}
