import { GradlensError } from '../gpu/errors.ts';
import { sizeOf } from '../graph/ir.ts';
import { modelOf, type AnyModel } from '../lens.ts';
import { gaussian } from './random.ts';
import { scoredTargets } from './targets.ts';

/** An explanation of `count` inputs at the given classes: count × input size. */
export type Explainer = (inputs: Float32Array, count: number, targets: Int32Array) => Promise<Float32Array>;

export interface SensitivityOptions {
  /** Half-width of the uniform noise added to every element (Captum's default perturbation, radius 0.02). */
  radius?: number;
  /** Perturbed copies per input (Captum's n_perturb_samples, default 10). */
  samples?: number;
  seed?: number;
  /** Class per input, kept for every perturbed copy (default top-1 of the unperturbed input). */
  target?: Int32Array;
}

export interface Sensitivity {
  /** max_s ‖φ(x + δ_s) − φ(x)‖ / ‖φ(x)‖ (Captum's sensitivity_max; Yeh 2019's max-sensitivity). */
  max: Float64Array;
  /** The same ratio's mean over samples (average sensitivity, Bhatt 2020). */
  average: Float64Array;
  /** max_s ‖φ(x + δ_s) − φ(x)‖ / ‖δ_s‖ (the local Lipschitz estimate, Alvarez-Melis 2018). */
  lipschitz: Float64Array;
}

/** Explains every perturbed copy of every input in one batched call, with seeded uniform noise in [−radius, radius]. */
export async function sensitivity(
  handle: AnyModel,
  inputs: Float32Array,
  count: number,
  explainer: Explainer,
  options: SensitivityOptions = {},
): Promise<Sensitivity> {
  const model = await modelOf(handle);
  const size = sizeOf(model.graph.inputShape);
  if (inputs.length !== count * size) throw new GradlensError('BAD_INPUT', `inputs need ${count} × ${size} values`);
  const radius = options.radius ?? 0.02;
  const samples = options.samples ?? 10;
  const random = gaussian(options.seed ?? 0);
  const targets = options.target ?? (await scoredTargets(model, inputs, count)).targets;
  const noise = Float32Array.from({ length: count * samples * size }, () => (2 * random.uniform() - 1) * radius);
  const perturbed = Float32Array.from(noise, (d, k) => inputs[Math.floor(k / (samples * size)) * size + (k % size)]! + d);
  const original = await explainer(inputs, count, targets);
  const copies = await explainer(
    perturbed,
    count * samples,
    Int32Array.from({ length: count * samples }, (_, p) => targets[Math.floor(p / samples)]!),
  );
  const result: Sensitivity = { max: new Float64Array(count), average: new Float64Array(count), lipschitz: new Float64Array(count) };
  for (let i = 0; i < count; i++) {
    const base = original.subarray(i * size, (i + 1) * size);
    let norm = 0;
    for (const v of base) norm += v * v;
    norm = Math.sqrt(norm);
    for (let s = 0; s < samples; s++) {
      const p = i * samples + s;
      let change = 0;
      let step = 0;
      for (let e = 0; e < size; e++) {
        change += (copies[p * size + e]! - base[e]!) ** 2;
        step += noise[p * size + e]! ** 2;
      }
      const ratio = Math.sqrt(change) / norm;
      result.max[i] = Math.max(result.max[i]!, ratio);
      result.average[i]! += ratio / samples;
      result.lipschitz[i] = Math.max(result.lipschitz[i]!, Math.sqrt(change) / Math.sqrt(step));
    }
  }
  return result;
}
