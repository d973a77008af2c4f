/**
 * The attribution layer's vocabulary, and nothing else: every module of src/attribution may import it; it imports
 * only types from below (the graph, the baselines), so no method, runner or registry depends on another through it.
 */
import type { Model } from '../graph/model.ts';
import type { ScoreKind } from '../graph/plan.ts';
import type { Shape } from '../graph/ir.ts';
import type { IntegrationRule } from './quadrature.ts';

/** Every method's id, as the API, the CLI and the widgets name it. */
export const METHOD_IDS = [
  'saliency',
  'gradient-x-input',
  'guided-backprop',
  'deconvnet',
  'integrated-gradients',
  'expected-gradients',
  'gradient-shap',
  'smoothgrad',
  'smoothgrad-sq',
  'vargrad',
  'smooth-taylor',
  'grad-cam',
  'grad-cam-plus-plus',
  'guided-grad-cam',
  'fullgrad',
  'blur-ig',
  'guided-ig',
  'idgi',
  'split-ig',
  'rectgrad',
  'noisegrad',
  'fusiongrad',
] as const;
export type MethodId = (typeof METHOD_IDS)[number];

/**
 * The reference point an integrated-gradients path starts from (Sundararajan 2017; Sturmfels et al., "Visualizing
 * the Impact of Feature Attribution Baselines", Distill 2020).
 */
export type Baseline =
  | 'zeros'
  | { constant: number }
  /** Gaussian blur of the input over its last two axes, σ in pixels. */
  | { blur: number }
  /** Uniform noise over the input's own range, seeded. */
  | 'uniform'
  /** One tensor per input (count × input size), or one shared by all. */
  | Float32Array;

/** A class index, 'top1', or one per input. */
export type Target = 'top1' | number | readonly (number | 'top1')[];

export type NoiseTunnel = 'smoothgrad' | 'smoothgrad-sq' | 'vargrad';

/** Options of the layer methods (Grad-CAM family, FullGrad). */
export interface CamOptions {
  /**
   * Grad-CAM family: the NCHW tensor whose activations A and gradients ∂f/∂A make the map, named as the model's graph
   * names it after BatchNorm folding (a Conv followed by a BatchNormalization outputs the BatchNorm's tensor name).
   * Default: the last Conv's output, followed forward through element-wise ops that keep its shape while it has one
   * reader: so the Relu after the last Conv, or a residual block's Add → Relu (pytorch-grad-cam's usual target, the
   * last block's output); the Conv's own output when nothing element-wise follows. `used.layer` reports the choice.
   */
  layer?: string;
  /**
   * Grad-CAM family: ReLU on Σ_k α_k A^k. Default true, as the paper (Selvaraju 2017, Eq. 2), pytorch-grad-cam and
   * Captum's GuidedGradCam; Captum's LayerGradCam defaults to false (`relu_attributions`).
   */
  relu?: boolean;
  /**
   * Grad-CAM family: how the layer map is resized to the input. 'bilinear' is ONNX half_pixel (PyTorch
   * align_corners=False, Captum's LayerAttribution.interpolate), the default of grad-cam and grad-cam-plus-plus;
   * 'nearest' is PyTorch's rule (source index ⌊o·in/out⌋), the default of guided-grad-cam as in Captum's GuidedGradCam.
   */
  upsample?: 'bilinear' | 'nearest';
}

/** Options of the path methods beyond integrated gradients (Blur IG, Guided IG, IDGI, Split IG). */
export interface PathOptions {
  /** Blur IG (and IDGI on its path): the blur σ, in pixels, where the path starts. Default 50, PAIR saliency's `max_sigma`. */
  maxSigma?: number;
  /** Blur IG: the σ step of the forward difference that approximates ∂x_σ/∂σ. Default 0.01, PAIR's `grad_step`. */
  gradStep?: number;
  /** Guided IG: the fraction of features, those of smallest |gradient|, moved at each step. Default 0.25, PAIR's `fraction`. */
  fraction?: number;
  /** Guided IG: how far (in α, 0 … 1) a feature may run ahead of or behind the straight line. Default 0.02, PAIR's `max_dist`. */
  maxDist?: number;
  /**
   * IDGI: whose path and gradients the steps take (Yang 2023 apply it to IG, Blur IG and Guided IG). Default
   * 'integrated-gradients', on the uniform grid α_j = j/steps. `steps` defaults to the base's: 50, 100, 200.
   */
  base?: 'integrated-gradients' | 'blur-ig' | 'guided-ig';
  /**
   * Split IG: the path is split at the first step whose score has covered this fraction of f(x) − f(b); only the part
   * before it is integrated. Default 0.95, the ratio of the authors' experiments (Miglani et al. 2020's notebook,
   * github.com/vivekmig/captum-1, `split_ratio = 0.95`).
   */
  splitRatio?: number;
}

/** Options of the methods that change the backward rules or the weights (RectGrad, NoiseGrad, FusionGrad). */
export interface RuleOptions {
  /**
   * RectGrad: q, the percentile of a layer's importances a ⊙ g (per sample) that an entry's importance must exceed for
   * its gradient to pass the ReLU; linear interpolation between ranks (src/kernels/rectgrad.ts). Default 98, Kim et al.
   * 2019's (their code, 1202kbs/Rectified-Gradient, RectifiedGradient(percentile=98)).
   */
  percentile?: number;
  /**
   * RectGrad: attribution R⁽⁰⁾ ⊙ x (default true: Kim et al.'s code returns gradient × input), or false for the
   * rectified gradient R⁽⁰⁾ itself.
   */
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
  noiseTunnel?: NoiseTunnel;
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
  /** ms: the whole call; compileMs: of it, wall time compiling shader pipelines (the first call's, mostly). */
  timing: { ms: number; compileMs?: number; points: number; chunks: number; chunkSize: number };
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
  /** Runs the method `context.options` names (with its noise tunnel): how a method runs another (NoiseGrad's base). */
  run: Method;
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

/** A method: what it computes from a context. */
export type Method = (context: MethodContext) => Promise<MethodResult>;

/** An option of a method, as its schema: how it is read and checked, what it means, its default. */
export type OptionValue = number | boolean | string;
export interface OptionSpec {
  /** How a value is read and checked: the CLI parses by it, a widget picks its input by it. */
  kind: 'integer' | 'number' | 'boolean' | 'choice' | 'baseline' | 'baseline-set' | 'tensor-name';
  /** One line: what it is, and where its default comes from. */
  doc: string;
  default?: OptionValue;
  choices?: readonly string[];
  /** A number's bounds: [min, max], min excluded with `openLow`. */
  min?: number;
  max?: number;
  openLow?: boolean;
}

/** The options a method may describe: every ExplainOptions key but the call's own (target, seed, chunking, …). */
export type OptionKey = Exclude<
  keyof ExplainOptions,
  'method' | 'target' | 'score' | 'seed' | 'streams' | 'noise' | 'chunkSize' | 'memoryBudget' | 'signal' | 'onProgress'
>;

/** What a method is, for those who choose among methods (the CLI, the widgets, the docs, the noise tunnel). */
export interface Capabilities {
  /** Explains at an inner layer (`layer`), of an image model. */
  layer: boolean;
  /** Reports a completeness residual (`delta`). */
  delta: boolean;
  /** Multiplies by the input (or by x − baseline). */
  timesInput: boolean;
  /** Draws random numbers: the seed changes its map. */
  random: boolean;
  /** How a noise tunnel goes around it: its noisy points batched inside the engine, as one call per sample, or not at all. */
  tunnel: 'engine' | 'calls' | 'none';
}

/** A method, described once: the API, the CLI, the widgets and the docs read this. */
export interface MethodDescription {
  id: MethodId;
  /** Its name and reference, one line. */
  summary: string;
  run: Method;
  /** Its own options (the tunnel's come with `capabilities.tunnel`). */
  options: Partial<Record<OptionKey, OptionSpec>>;
  capabilities: Capabilities;
  /** The Captum class that computes the same, where there is one. */
  captum?: string;
}
