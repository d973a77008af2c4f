import { GradlensError } from '../gpu/errors.ts';
import { sizeOf, type Shape } from '../graph/ir.ts';
import type { Model } from '../graph/model.ts';
import type { ScoreKind } from '../graph/plan.ts';
import type { Baseline } from './baselines.ts';
import { METHODS, TUNNEL_NATIVE, type MethodId } from './methods.ts';
import { tunnelAround } from './tunnel.ts';
import type { CamOptions } from './methods/cam.ts';
import type { PathOptions } from './methods/paths.ts';
import type { RuleOptions } from './methods/rules.ts';
import type { IntegrationRule } from './quadrature.ts';
import { logitsOf, resolveTargets, scoresOf, type Target } from './targets.ts';

export interface ExplainOptions extends CamOptions, PathOptions, RuleOptions {
  method: MethodId;
  /** A class index, 'top1', or one per input. Default 'top1'. */
  target?: Target;
  /** What the gradient is taken of. Default 'logit' (Captum's convention). */
  score?: ScoreKind;
  /** Seeds every random draw (noise, baselines, α); none given means a fresh one, reported in the result. */
  seed?: number;
  /** Saliency: absolute gradients (Captum's default, true) or signed. */
  absolute?: boolean;
  /** Integrated gradients: path steps (50) and rule ('gausslegendre'), as Captum. */
  steps?: number;
  rule?: IntegrationRule;
  /** Integrated gradients: where the path starts (zeros). */
  baseline?: Baseline;
  /** Expected gradients / GradientSHAP: the set baselines are drawn from (k × input size). */
  baselines?: Float32Array;
  /** Noise samples and σ: absolute (`stdev`) or a fraction of each input's max − min (`stdevFraction`, PAIR). */
  samples?: number;
  stdev?: number;
  stdevFraction?: number;
  /**
   * One noise stream id per input (default: its index in this call). Give each input a stable id (a hash of its
   * name, say) and its draws no longer depend on which inputs share its call.
   */
  streams?: readonly number[];
  /** Noise given instead of drawn (samples × count × input size): to reproduce another library's SmoothGrad. */
  noise?: Float32Array;
  /** Wraps the method in a noise tunnel: SmoothGrad (mean), SmoothGrad² (mean of squares) or VarGrad (variance). */
  noiseTunnel?: 'smoothgrad' | 'smoothgrad-sq' | 'vargrad';
  /** Points per GPU chunk (Captum's internal_batch_size); default from the memory budget. */
  chunkSize?: number;
  memoryBudget?: number;
  signal?: AbortSignal;
  onProgress?: (progress: { done: number; total: number }) => void;
}

export interface Explanation {
  method: MethodId;
  /** count × input shape, row-major. */
  attribution: Float32Array;
  shape: Shape;
  target: Int32Array;
  /** The score of each input at its target (logit, probability or log-probability). */
  score: Float32Array;
  /**
   * A completeness residual per input, where the method defines one: Σ attribution − (f(x) − f(baseline)) for
   * integrated gradients; Σ of FullGrad's raw terms − f(x) for FullGrad.
   */
  delta?: Float32Array;
  seed: number;
  options: Record<string, unknown>;
  timing: { ms: number; points: number; chunks: number; chunkSize: number };
}

/** What a method receives: the inputs with their targets resolved and scored, and the options. */
export interface MethodContext {
  model: Model;
  inputs: Float32Array;
  count: number;
  size: number;
  targets: Int32Array;
  scores: Float32Array;
  score: ScoreKind;
  seed: number;
  options: ExplainOptions;
}

export interface MethodResult {
  attribution: Float32Array;
  delta?: Float32Array;
  points: number;
  chunks: number;
  chunkSize: number;
  /** The options the method used after defaults, for the record. */
  used: Record<string, unknown>;
}

/** Explains `count` inputs (count × input shape, row-major) with one method. */
export async function explain(model: Model, inputs: Float32Array, count: number, options: ExplainOptions): Promise<Explanation> {
  const started = performance.now();
  const method = METHODS[options.method];
  if (!method) throw new GradlensError('BAD_PARAMS', `unknown method "${options.method}" (known: ${Object.keys(METHODS).join(', ')})`);
  const size = sizeOf(model.graph.inputShape);
  if (!Number.isInteger(count) || count < 1 || inputs.length !== count * size) {
    throw new GradlensError('BAD_INPUT', `expected ${count} inputs of [${model.graph.inputShape.join(', ')}] = ${count * size} values, got ${inputs.length}`);
  }
  const bad = inputs.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new GradlensError('NAN_INPUT', `input value ${bad} is ${inputs[bad]}: clean the input (NaN or infinity) before explaining it`);
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
  const score = options.score ?? 'logit';
  const classes = sizeOf(model.outputShape);
  const logits = await logitsOf(model, inputs, count);
  const targets = resolveTargets(options.target ?? 'top1', logits, count, classes);
  const scores = scoresOf(logits, targets, classes, score);
  const context = { model, inputs, count, size, targets, scores, score, seed, options };
  const result = options.noiseTunnel && !TUNNEL_NATIVE.has(options.method) ? await tunnelAround(method, context) : await method(context);
  const explanation: Explanation = {
    method: options.method,
    attribution: result.attribution,
    shape: [count, ...model.graph.inputShape],
    target: targets,
    score: scores,
    seed,
    options: { score, ...result.used },
    timing: { ms: performance.now() - started, points: result.points, chunks: result.chunks, chunkSize: result.chunkSize },
  };
  if (result.delta) explanation.delta = result.delta;
  return explanation;
}
