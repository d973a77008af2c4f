import { GradlensError } from '../gpu/errors.ts';
import { sizeOf } from '../graph/ir.ts';
import { modelOf, type AnyModel } from '../lens.ts';
import type { ScoreKind } from '../graph/plan.ts';
import { logitsOf, type Target } from '../attribution/targets.ts';
import { gaussian } from './random.ts';
import { pointScores, scoredTargets } from './targets.ts';

export interface InfidelityOptions {
  /** 'gaussian': I ~ N(0, σ²) per element; 'square': I = x on a random square (all channels), 0 elsewhere (Yeh 2019). */
  perturbation?: 'gaussian' | 'square';
  /** σ of the Gaussian perturbation (default 0.1). */
  stdev?: number;
  /** Side of the removed square in pixels (default a quarter of the width, at least 1). */
  squareSize?: number;
  /** Perturbations per input (Captum's n_perturb_samples, default 10). */
  samples?: number;
  /** Scale the attribution by the β that minimises the error first (Captum's normalize; default false). */
  normalize?: boolean;
  target?: Target | Int32Array;
  score?: ScoreKind;
  seed?: number;
}

/**
 * Infidelity (Yeh 2019, Eq. 1; Captum's `infidelity`): E_I[(Iᵀφ − (f(x) − f(x − I)))²] per input, over seeded
 * perturbations I; the perturbed inputs are made on the CPU and scored in batched forward passes on the GPU.
 */
export async function infidelity(
  handle: AnyModel,
  inputs: Float32Array,
  attribution: Float32Array,
  count: number,
  options: InfidelityOptions = {},
): Promise<Float64Array> {
  const model = await modelOf(handle);
  const shape = model.graph.inputShape;
  const size = sizeOf(shape);
  if (inputs.length !== count * size || attribution.length !== count * size)
    throw new GradlensError('BAD_INPUT', `inputs and attribution need ${count} × ${size} values`);
  const samples = options.samples ?? 10;
  const kind = options.perturbation ?? 'gaussian';
  if (kind === 'square' && shape.length !== 3)
    throw new GradlensError('BAD_PARAMS', `square removal needs an input [C, H, W], not [${shape.join(', ')}]`);
  const random = gaussian(options.seed ?? 0);
  const stdev = options.stdev ?? 0.1;
  const perturbations = new Float32Array(count * samples * size);
  const perturbed = new Float32Array(count * samples * size);
  for (let i = 0; i < count; i++) {
    const x = inputs.subarray(i * size, (i + 1) * size);
    for (let s = 0; s < samples; s++) {
      const offset = (i * samples + s) * size;
      const I = perturbations.subarray(offset, offset + size);
      if (kind === 'gaussian') for (let e = 0; e < size; e++) I[e] = stdev * random.normal();
      else squareOf(I, x, shape as [number, number, number], options.squareSize, random.uniform);
      for (let e = 0; e < size; e++) perturbed[offset + e] = x[e]! - I[e]!;
    }
  }
  const score = options.score ?? 'logit';
  const { targets, scores, classes } = await scoredTargets(model, inputs, count, options.target ?? 'top1', score);
  const source = Uint32Array.from({ length: count * samples }, (_, p) => Math.floor(p / samples));
  const after = pointScores(await logitsOf(model, perturbed, count * samples), source, targets, classes, score);
  return Float64Array.from({ length: count }, (_, i) => {
    const projected: number[] = [];
    const drops: number[] = [];
    for (let s = 0; s < samples; s++) {
      const p = i * samples + s;
      let dot = 0;
      for (let e = 0; e < size; e++) dot += perturbations[p * size + e]! * attribution[i * size + e]!;
      projected.push(dot);
      drops.push(scores[i]! - after[p]!);
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    // Captum: β = E[aᵀb] / E[a²] when normalising, else 1.
    const beta = options.normalize ? mean(projected.map((a, s) => a * drops[s]!)) / mean(projected.map((a) => a * a)) : 1;
    return mean(projected.map((a, s) => (beta * a - drops[s]!) ** 2));
  });
}

function squareOf(
  I: Float32Array,
  x: Float32Array,
  [channels, height, width]: [number, number, number],
  side: number | undefined,
  uniform: () => number,
): void {
  const s = Math.max(1, Math.min(side ?? Math.floor(width / 4), height, width));
  const top = Math.floor(uniform() * (height - s + 1));
  const left = Math.floor(uniform() * (width - s + 1));
  I.fill(0);
  for (let c = 0; c < channels; c++) {
    for (let r = top; r < top + s; r++) {
      for (let q = left; q < left + s; q++) {
        const e = (c * height + r) * width + q;
        I[e] = x[e]!;
      }
    }
  }
}
