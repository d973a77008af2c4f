/** NoiseGrad and FusionGrad (Bykov et al. 2022): a base method averaged over models with noisy weights. */
import { allocate } from '../../gpu/buffers.ts';
import { CommandBatch } from '../../gpu/commands.ts';
import { GradlensError } from '../../gpu/errors.ts';
import { Model } from '../../graph/model.ts';
import { weightNoise } from '../../kernels/attribution/weight-noise.ts';
import { METHOD_IDS } from '../generated/method-ids.ts';
import { boolean, choice, integer, number } from '../options.ts';
import type { ExplainOptions, Method, MethodContext, OptionKey, OptionSpec } from '../types.ts';

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
    const copies = await allocate(
      device,
      weights.map(([name, buffer]) => ({ label: `${source.graph.name}:${name} perturbed`, size: buffer.size })),
    );
    const copy = new CommandBatch(device, 'noisegrad weight copies');
    const noisy = [];
    for (const [tensor, [name, buffer]] of weights.entries()) {
      if (parameters.has(name))
        noisy.push({ tensor, count: source.graph.constants.get(name)!.data.length, weights: buffer, perturbed: copies[tensor]! });
      else copy.copy(buffer, copies[tensor]!, buffer.size);
    }
    await copy.submit();
    return new PerturbedModel(Model.withWeights(source, new Map(weights.map(([name], t) => [name, copies[t]!]))), noisy);
  }

  async perturb(sample: number, seed: number, stdev: number): Promise<void> {
    const { gpu } = this.model;
    const dispatches = await Promise.all(
      this.noisy.map(({ tensor, count, weights, perturbed }) => weightNoise(gpu, { weights, perturbed }, { count, tensor, sample, seed, stdev })),
    );
    await new CommandBatch(gpu.device, `noisegrad model ${sample}`).add(...dispatches).submit();
    for (const dispatch of dispatches) dispatch.bound.uniforms.forEach((buffer) => buffer.destroy());
  }

  destroy(): void {
    this.model.destroy();
  }
}

const BASE_METHODS = METHOD_IDS.filter((id) => id !== 'noisegrad' && id !== 'fusiongrad');

/** Model m's explanation runs with seed + m·2³² (the key's high word + m): its own input noise, met by no seed below 2³². */
const modelSeed = (seed: number, m: number) => (seed + m * 2 ** 32) % 2 ** 53;

/**
 * NoiseGrad (Bykov et al. 2022): the mean of the base explanation over M models with weights θ ⊙ η_m; FusionGrad takes
 * SmoothGrad of the base on each of them, so the mean runs over M models × N noisy inputs. Targets stay the original
 * model's. Each model's explanation is read back and summed here (in float64): one readback per model.
 */
export function overPerturbedModels(fusion: boolean): Method {
  return async (context: MethodContext) => {
    const { options } = context;
    const { baseMethod: base, weightSamples: samples, weightStdev: stdev } = options as Required<ExplainOptions>;
    // FusionGrad: SmoothGrad of the base on each model, through the noise tunnel whatever the base.
    const baseOptions: ExplainOptions = { ...options, method: base, ...(fusion ? { noiseTunnel: 'smoothgrad' } : {}) };
    const perturbed = await PerturbedModel.create(context.model);
    const sum = new Float64Array(context.count * context.size);
    const totals = { points: 0, chunks: 0, chunkSize: 0 };
    let used: Record<string, unknown> = {};
    try {
      for (let m = 0; m < samples; m++) {
        options.signal?.throwIfAborted();
        await perturbed.perturb(m, context.seed, stdev);
        const onProgress = options.onProgress;
        const progress = onProgress
          ? { onProgress: (p: { done: number; total: number }) => onProgress({ done: m * p.total + p.done, total: samples * p.total }) }
          : {};
        const result = await context.run({
          ...context,
          model: perturbed.model,
          seed: modelSeed(context.seed, m),
          options: { ...baseOptions, ...progress },
        });
        result.attribution.forEach((value, i) => (sum[i] = sum[i]! + value));
        totals.points += result.points;
        totals.chunks += result.chunks;
        totals.chunkSize = result.chunkSize;
        used = result.used;
      }
    } finally {
      perturbed.destroy();
    }
    return {
      attribution: Float32Array.from(sum, (value) => value / samples),
      ...totals,
      used: { baseMethod: base, weightSamples: samples, weightStdev: stdev, baseOptions: used },
    };
  };
}

/** NoiseGrad's and FusionGrad's options: Bykov et al.'s code (NoiseGradConfig, NoiseGradPlusPlusConfig). */
export const WEIGHT_NOISE = {
  baseMethod: choice('the method averaged over the perturbed models (its own options apply)', BASE_METHODS, 'saliency'),
  weightSamples: integer('M, the number of perturbed models (NoiseGradConfig.n)', 10),
  weightStdev: number('σ of the multiplicative weight noise η ~ N(1, σ²) (NoiseGradConfig.std)', 0.2, { min: 0 }),
  absolute: boolean('absolute or signed base maps; signed, as Bykov et al. average signed gradients', false),
} satisfies Partial<Record<OptionKey, OptionSpec>>;

export const WEIGHT_NOISE_CAPABILITIES = { layer: false, delta: false, timesInput: false, random: true, tunnel: 'none' } as const;
