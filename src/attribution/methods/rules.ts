import { allocate } from '../../gpu/buffers.ts';
import { CommandBatch } from '../../gpu/commands.ts';
import { GradlensError } from '../../gpu/errors.ts';
import { Model } from '../../graph/model.ts';
import type { RectGradRules } from '../../graph/op.ts';
import { weightNoise } from '../../kernels/attribution/weight-noise.ts';
import type { ExplainOptions, MethodContext } from '../explain.ts';
import { engineMethod, METHODS, type Method, type MethodId } from '../methods.ts';

/** Options of the methods that change the backward rules or the weights (RectGrad, NoiseGrad, FusionGrad). */
export interface RuleOptions {
  /**
   * RectGrad: q, the percentile of a layer's importances a ⊙ g (per sample) that an entry's importance must exceed for
   * its gradient to pass the ReLU; linear interpolation between ranks (src/kernels/attribution/rectgrad.ts). Default 98, Kim et al.
   * 2019's (their code, 1202kbs/Rectified-Gradient, RectifiedGradient(percentile=98)).
   */
  percentile?: number;
  /** RectGrad: attribution R⁽⁰⁾ ⊙ x (default true: Kim et al.'s code returns gradient × input), or false for the rectified gradient R⁽⁰⁾ itself. */
  timesInput?: boolean;
  /**
   * NoiseGrad / FusionGrad: the explanation averaged over the perturbed models, any method but these two (its own options
   * apply). Default 'saliency', signed unless `absolute` is given (Bykov et al. 2022 average signed gradients).
   */
  baseMethod?: MethodId;
  /** NoiseGrad / FusionGrad: M, the number of perturbed models. Default 10 (Bykov et al.'s code, NoiseGradConfig.n). */
  weightSamples?: number;
  /** NoiseGrad / FusionGrad: σ of the multiplicative weight noise η ~ N(1, σ²). Default 0.2 (Bykov et al.'s code). */
  weightStdev?: number;
}

/** RectGrad (Kim et al. 2019): the input gradient under the 'rectgrad' backward rule set, times the input by default. */
const rectGrad: Method = (context) =>
  engineMethod((c) => {
    const percentile = c.options.percentile ?? 98;
    if (!(percentile >= 0 && percentile <= 100)) throw new GradlensError('BAD_PARAMS', `percentile must lie in [0, 100], got ${percentile}`);
    const timesInput = c.options.timesInput ?? true;
    const rules: RectGradRules = { name: 'rectgrad', percentile };
    return { rules, multiply: timesInput ? 'input' : 'none', used: { percentile, timesInput } };
  })(context);

/**
 * The inputs that hold learned parameters, what Bykov et al. perturb (a PyTorch model's parameters()), in ONNX terms:
 * weights and biases, BatchNorm's and LayerNorm's scale and shift (not running statistics), constants added to
 * activations (biases, embeddings). Folded BatchNorm is perturbed through the folded weight and bias.
 */
const PARAMETER_INPUTS: Readonly<Record<string, readonly number[]>> = {
  Conv: [1, 2],
  Gemm: [0, 1, 2],
  MatMul: [0, 1],
  Add: [0, 1],
  BatchNormalization: [1, 2],
  LayerNormalization: [1, 2],
};

/**
 * A copy of a model's weights, as a Model of its own, whose parameters a kernel rewrites as w ⊙ η for each sample.
 * Weight t (its position in model.weights) draws η from its own Philox counters, so the noise is reproducible.
 */
class PerturbedModel {
  private constructor(
    readonly model: Model,
    private readonly noisy: readonly { tensor: number; count: number; weights: GPUBuffer; perturbed: GPUBuffer }[],
  ) {}

  static async create(source: Model): Promise<PerturbedModel> {
    const { device } = source.gpu;
    const parameters = new Set(source.graph.nodes.flatMap((node) => (PARAMETER_INPUTS[node.op] ?? []).map((i) => node.inputs[i] ?? '')));
    const weights = [...source.weights];
    const copies = await allocate(device, weights.map(([name, buffer]) => ({ label: `${source.graph.name}:${name} perturbed`, size: buffer.size })));
    const copy = new CommandBatch(device, 'noisegrad weight copies');
    const noisy = [];
    for (const [tensor, [name, buffer]] of weights.entries()) {
      if (parameters.has(name)) noisy.push({ tensor, count: source.graph.constants.get(name)!.data.length, weights: buffer, perturbed: copies[tensor]! });
      else copy.copy(buffer, copies[tensor]!, buffer.size);
    }
    await copy.submit();
    return new PerturbedModel(Model.withWeights(source, new Map(weights.map(([name], t) => [name, copies[t]!]))), noisy);
  }

  async perturb(sample: number, seed: number, stdev: number): Promise<void> {
    const { gpu } = this.model;
    const dispatches = await Promise.all(this.noisy.map(({ tensor, count, weights, perturbed }) => weightNoise(gpu, { weights, perturbed }, { count, tensor, sample, seed, stdev })));
    await new CommandBatch(gpu.device, `noisegrad model ${sample}`).add(...dispatches).submit();
    for (const dispatch of dispatches) dispatch.bound.uniforms.forEach((buffer) => buffer.destroy());
  }

  destroy(): void {
    this.model.destroy();
  }
}

/** Model m's explanation runs with seed + m·2³² (the key's high word + m): its own input noise, met by no seed below 2³². */
const modelSeed = (seed: number, m: number) => (seed + m * 2 ** 32) % 2 ** 53;

/** FusionGrad's input noise: SmoothGrad's samples and σ (absolute, or `stdevFraction` of each input's range). */
function inputNoise(options: ExplainOptions): Partial<ExplainOptions> {
  const samples = options.samples ?? 10; // Bykov et al.'s code, NoiseGradPlusPlusConfig.m
  if (options.stdev === undefined && options.stdevFraction !== undefined) return { noiseTunnel: 'smoothgrad', samples, stdevFraction: options.stdevFraction };
  return { noiseTunnel: 'smoothgrad', samples, stdev: options.stdev ?? 0.4 }; // their sg_std: absolute, on normalised images
}

/**
 * NoiseGrad (Bykov et al. 2022): the mean of the base explanation over M models with weights θ ⊙ η_m; FusionGrad takes
 * SmoothGrad of the base on each of them, so the mean runs over M models × N noisy inputs. Targets stay the original
 * model's. Each model's explanation is read back and summed here (in float64): one readback per model.
 */
function overPerturbedModels(fusion: boolean): Method {
  return async (context: MethodContext) => {
    const { options } = context;
    const base = options.baseMethod ?? 'saliency';
    if (base === 'noisegrad' || base === 'fusiongrad' || !Object.hasOwn(METHODS, base)) {
      throw new GradlensError('BAD_PARAMS', `baseMethod must be a method other than noisegrad and fusiongrad (known: ${Object.keys(METHODS).join(', ')}), got "${base}"`);
    }
    const samples = options.weightSamples ?? 10;
    if (!Number.isInteger(samples) || samples < 1) throw new GradlensError('BAD_PARAMS', `weightSamples must be a positive integer, got ${samples}`);
    const stdev = options.weightStdev ?? 0.2;
    if (!(stdev >= 0 && Number.isFinite(stdev))) throw new GradlensError('BAD_PARAMS', `weightStdev must be finite and ≥ 0, got ${stdev}`);
    const baseOptions: ExplainOptions = { ...options, method: base, absolute: options.absolute ?? false, ...(fusion ? inputNoise(options) : {}) };
    const explainBase: Method = METHODS[base];
    const perturbed = await PerturbedModel.create(context.model);
    const sum = new Float64Array(context.count * context.size);
    const totals = { points: 0, chunks: 0, chunkSize: 0 };
    let used: Record<string, unknown> = {};
    try {
      for (let m = 0; m < samples; m++) {
        options.signal?.throwIfAborted();
        await perturbed.perturb(m, context.seed, stdev);
        const onProgress = options.onProgress;
        const progress = onProgress ? { onProgress: (p: { done: number; total: number }) => onProgress({ done: m * p.total + p.done, total: samples * p.total }) } : {};
        const result = await explainBase({ ...context, model: perturbed.model, seed: modelSeed(context.seed, m), options: { ...baseOptions, ...progress } });
        result.attribution.forEach((value, i) => (sum[i] = sum[i]! + value));
        totals.points += result.points;
        totals.chunks += result.chunks;
        totals.chunkSize = result.chunkSize;
        used = result.used;
      }
    } finally {
      perturbed.destroy();
    }
    return { attribution: Float32Array.from(sum, (value) => value / samples), ...totals, used: { baseMethod: base, weightSamples: samples, weightStdev: stdev, baseOptions: used } };
  };
}

export const ruleMethods = {
  rectgrad: rectGrad,
  noisegrad: overPerturbedModels(false),
  fusiongrad: overPerturbedModels(true),
} satisfies Record<string, Method>;
