import { METHODS, type Baseline, type MethodId } from '../src/index.ts';
import type { RunOptions } from './explain-controller.ts';

// Which of the main options each method reads, so a picker shows only those. No DOM.

export const METHOD_IDS = Object.keys(METHODS) as MethodId[];

const STEPS: ReadonlySet<string> = new Set(['integrated-gradients', 'blur-ig', 'guided-ig', 'idgi', 'split-ig']);
const NOISE: ReadonlySet<string> = new Set(['smoothgrad', 'smoothgrad-sq', 'vargrad', 'smooth-taylor', 'gradient-shap']);
const SAMPLES: ReadonlySet<string> = new Set([...NOISE, 'expected-gradients']);
const BASELINE: ReadonlySet<string> = new Set(['integrated-gradients', 'split-ig']);
const LAYER: ReadonlySet<string> = new Set(['grad-cam', 'grad-cam-plus-plus', 'guided-grad-cam']);
const BASELINE_SET: ReadonlySet<string> = new Set(['expected-gradients', 'gradient-shap']);

export type BaselineName = 'zeros' | 'uniform' | 'blur';

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

/** Which option inputs a method shows. */
export function optionsOf(method: string): { steps: boolean; samples: boolean; noise: boolean; baseline: boolean; layer: boolean } {
  return { steps: STEPS.has(method), samples: SAMPLES.has(method), noise: NOISE.has(method), baseline: BASELINE.has(method), layer: LAYER.has(method) };
}

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
    if (main.method === 'gradient-shap') options.stdev = main.noise;
    else options.stdevFraction = main.noise;
  }
  if (used.baseline && main.baseline) options.baseline = baselineOf(main.baseline, inputShape);
  if (used.layer && main.layer) options.layer = main.layer;
  if (BASELINE_SET.has(main.method)) options.baselines = baselines ?? defaultBaselineSet(input);
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
