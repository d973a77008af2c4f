import { allocate } from '../../gpu/buffers.ts';
import { CommandBatch } from '../../gpu/commands.ts';
import { GradlensError } from '../../gpu/errors.ts';
import { Model } from '../../graph/model.ts';
import type { RectGradRules } from '../../graph/op.ts';
import { weightNoise } from '../../kernels/attribution/weight-noise.ts';
import { boolean, choice, integer, NOISE, number } from '../options.ts';
import {
  METHOD_IDS,
  type ExplainOptions,
  type Method,
  type MethodContext,
  type MethodDescription,
  type OptionKey,
  type OptionSpec,
} from '../types.ts';
import { engineMethod } from './gradients.ts';

/** RectGrad (Kim et al. 2019): the input gradient under the 'rectgrad' backward rule set, times the input by default. */
const rectGrad: Method = engineMethod((c) => {
  const { percentile, timesInput } = c.options as Required<ExplainOptions>;
  const rules: RectGradRules = { name: 'rectgrad', percentile };
  return { rules, multiply: timesInput ? 'input' : 'none', used: { percentile, timesInput } };
});

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
function overPerturbedModels(fusion: boolean): Method {
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
const WEIGHT_NOISE = {
  baseMethod: choice('the method averaged over the perturbed models (its own options apply)', BASE_METHODS, 'saliency'),
  weightSamples: integer('M, the number of perturbed models (NoiseGradConfig.n)', 10),
  weightStdev: number('σ of the multiplicative weight noise η ~ N(1, σ²) (NoiseGradConfig.std)', 0.2, { min: 0 }),
  absolute: boolean('absolute or signed base maps; signed, as Bykov et al. average signed gradients', false),
} satisfies Partial<Record<OptionKey, OptionSpec>>;

const RULES = { layer: false, delta: false, timesInput: false, random: true, tunnel: 'none' } as const;

export const ruleMethods: readonly MethodDescription[] = [
  {
    id: 'rectgrad',
    summary: "RectGrad (Kim 2019): a ReLU passes gradient only where a ⊙ g is in its layer's top percentile",
    run: rectGrad,
    options: {
      percentile: number("q: the percentile of a ⊙ g a gradient must pass (Kim et al.'s code)", 98, { min: 0, max: 100 }),
      timesInput: boolean("attribution R⁽⁰⁾ ⊙ x (Kim et al.'s code) or the rectified gradient R⁽⁰⁾", true),
    },
    capabilities: { ...RULES, random: false, timesInput: true, tunnel: 'engine' },
  },
  {
    id: 'noisegrad',
    summary: 'NoiseGrad (Bykov 2022): the base map averaged over models with multiplicative weight noise',
    run: overPerturbedModels(false),
    options: WEIGHT_NOISE,
    capabilities: RULES,
  },
  {
    id: 'fusiongrad',
    summary: 'FusionGrad (Bykov 2022): NoiseGrad with SmoothGrad input noise on each perturbed model',
    run: overPerturbedModels(true),
    options: {
      ...WEIGHT_NOISE,
      samples: integer('noisy inputs per model (NoiseGradPlusPlusConfig.m)', 10),
      stdev: number('σ of the input noise, absolute (their sg_std, on normalised images)', 0.4, { min: 0 }),
      stdevFraction: number(NOISE.stdevFraction.doc, undefined, { min: 0 }),
    },
    capabilities: RULES,
  },
];
