/**
 * The attribution layer's vocabulary, and nothing else: every module of src/attribution may import it; it imports
 * only types from below (the graph, the baselines), so no method, runner or registry depends on another through it.
 */
import type { Model } from '../graph/model.ts';
import type { ScoreKind } from '../graph/plan.ts';
import type { Shape } from '../graph/ir.ts';
import type { MethodId } from './generated/method-ids.ts';
import type { IntegrationRule } from './quadrature.ts';

/** Every method's id: the file names of src/attribution/methods/ (generated/method-ids.ts, written by a script). */
export type { MethodId } from './generated/method-ids.ts';

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
export type ClassTarget = 'top1' | number | readonly (number | 'top1')[];

/**
 * A place in a sequence output, per sample [steps, classes] (CTC, token classification): one class at one time step,
 * or the step's top-1 class. Its score is that output value (a probability where the model ends in a softmax).
 */
export interface StepTarget {
  step: number;
  class: number | 'top1';
}

/**
 * A region of a dense output, per sample [height, width] or [channels, height, width] (detection, segmentation): the
 * output summed over x0 ≤ x < x1, y0 ≤ y < y1 of one channel (default 0), in output pixels.
 */
export interface RegionTarget {
  region: readonly [x0: number, y0: number, x1: number, y1: number];
  channel?: number;
}

/** Any output, weighted: the score is Σ mask ⊙ output, the mask one sample's output size (a segmentation mask, say). */
export interface MaskTarget {
  mask: Float32Array;
}

/** A target inside an output that is more than one vector of logits; the same for every input of a call. */
export type OutputTarget = StepTarget | RegionTarget | MaskTarget;

/** What the gradient is taken of: a class (of a logit vector), a place in a sequence or dense output, or a step per input. */
export type Target = ClassTarget | OutputTarget | readonly StepTarget[];

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

/** Options of the layer and neuron methods (Captum's Layer* and Neuron* classes); `layer` names their layer. */
export interface LayerOptions {
  /**
   * Attribute to the input of the node that computes `layer` rather than to its output (Captum's
   * attribute_to_layer_input / attribute_to_neuron_input): that node's read of it alone, as Captum's hook on a module's
   * input. Default false.
   */
  attributeToLayerInput?: boolean;
  /** Neuron methods: the neuron, an index into the layer's per-sample shape (Captum's neuron_selector as a tuple). */
  neuron?: readonly number[];
  /**
   * Layer integrated gradients: where the path starts at the layer: 'inputs', the layer's values at the baseline inputs
   * (Captum's), or 'zeros', zero layer values (zero embeddings, for a token embedding). Default 'inputs'.
   */
  layerBaseline?: 'inputs' | 'zeros';
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

/** Options of layer-wise relevance propagation (src/attribution/methods/lrp.ts; docs/lrp.md). */
export interface LrpOptions {
  /**
   * LRP: the rule of each layer, by a composite that assigns rules by layer type (Zennit's EpsilonPlusFlat,
   * EpsilonGammaBox, EpsilonPlus) or one rule everywhere. Default 'epsilon-plus-flat'.
   */
  composite?: string;
  /** LRP: ε of the ε rule. Default 1e-6, Zennit's Epsilon (Captum's EpsilonRule takes 1e-9). */
  epsilon?: number;
  /** LRP: γ of the γ rule. Default 0.25, Zennit's and Captum's. */
  gamma?: number;
  /** LRP: the box rule's lowest and highest input value (Zennit's ZBox low, high). Default 0 and 1, a raw image's. */
  low?: number;
  high?: number;
  /** LRP: leave biases out of the γ and α1β0 rules (Captum's set_bias_to_zero). Default false. */
  zeroBias?: boolean;
}

export interface ExplainOptions extends CamOptions, LayerOptions, PathOptions, RuleOptions, LrpOptions {
  method: MethodId;
  /**
   * A class index, 'top1', or one per input (default 'top1'); or, for sequence and dense outputs, a time step and class,
   * a region or a mask of the output (OutputTarget; with score 'logit', the output's own values).
   */
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
  /**
   * Points per GPU chunk (Captum's internal_batch_size), used as given. Default: the most the memory budget allows (on
   * a software adapter, also at most 32 MiB of the largest tensor a chunk), evened out over the chunks that takes.
   */
  chunkSize?: number;
  /**
   * GPU bytes a call may allocate beyond the model's weights (default 256 MiB): its plans, the model's cached plans
   * (least recently used ones not in use are freed to make room), and the run's own buffers. The weights and the
   * driver's own memory are not counted. A `chunkSize` given is used as given: the budget then only frees cached plans.
   */
  memoryBudget?: number;
  signal?: AbortSignal;
  onProgress?: (progress: { done: number; total: number }) => void;
}

export interface Explanation {
  method: MethodId;
  /** count × `shape`'s per-sample part, row-major: the input's shape, or a layer method's layer shape. */
  attribution: Float32Array;
  /** [count, ...the input's shape], or [count, ...the layer's] for a layer method (LayerGradCam: [count, 1, h, w]). */
  shape: Shape;
  /** Per input, the output element scored: a class, or (step targets) the flat index step × classes + class. */
  target: Int32Array;
  /** The score of each input at its target (logit, probability or log-probability; Σ mask ⊙ output for regions). */
  score: Float32Array;
  /** Where the target was an OutputTarget: per input, the one used (a step's top-1 class resolved). */
  outputTarget?: OutputTarget[];
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
  /** The per-sample shape of the attribution where it is not the input's (a layer method's layer). */
  shape?: Shape;
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
  kind: 'integer' | 'number' | 'boolean' | 'choice' | 'baseline' | 'baseline-set' | 'tensor-name' | 'index';
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
  /** The attribution has the layer's shape, not the input's (Captum's Layer* classes). */
  layerShaped?: boolean;
  /** Reports a completeness residual (`delta`). */
  delta: boolean;
  /** Multiplies by the input (or by x − baseline). */
  timesInput: boolean;
  /** Draws random numbers: the seed changes its map. */
  random: boolean;
  /** How a noise tunnel goes around it: its noisy points batched inside the engine, as one call per sample, or not at all. */
  tunnel: 'engine' | 'calls' | 'none';
}

/** A method's Captum counterpart: the call, and where gradlens's defaults are not Captum's. */
export interface CaptumCounterpart {
  /** The call with the arguments that make it gradlens's method, e.g. `NoiseTunnel(Saliency).attribute(nt_type='vargrad', abs=False)`. */
  call: string;
  /** The defaults that differ (a fixture sets them equal), one phrase; none when gradlens's defaults are Captum's. */
  differs?: string;
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
  /** The Captum 0.8 call that computes the same, where there is one: test/captum/ checks that they agree. */
  captum?: CaptumCounterpart;
}
