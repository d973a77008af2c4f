import { css, html, type PropertyDeclarations, nothing, type PropertyValues } from 'lit';
import { hasOption, type GradlensError, type MethodId, type Target } from '../src/index.ts';
import { COLORMAPS, SIGNS, type ColormapName, type Sign } from '../src/render/index.ts';
import { errorDetail, fire, widgetEvents } from './events.ts';
import { asGradlensError, ExplainController, type Prediction } from './explain-controller.ts';
import './gradlens-heatmap.ts';
import { prepareImage, prepareTensor, type PreparedInput } from './image-input.ts';
import { InputElement } from './input-element.ts';
import {
  BASELINE_NAMES,
  layerCandidates,
  METHOD_IDS,
  optionInputs,
  optionsOf,
  placeholder,
  runOptions,
  type BaselineName,
  type MethodOptionValue,
  parseTarget,
  targetWords,
  withOption,
} from './method-options.ts';
import { themeStyles, type Theme } from './styles.ts';
import {
  choiceView,
  classNames,
  commaList,
  controlStyles,
  heatmapView,
  optionInputView,
  predictionList,
  progressView,
  runStatus,
  statusView,
} from './views.ts';

const MODEL_OPTIONS = ['model'] as const;
const INPUT_OPTIONS = ['src', 'image', 'tensor', 'preprocess'] as const;
const RUN_OPTIONS = ['method', 'steps', 'samples', 'noise', 'baseline', 'layer', 'target', 'seed', 'baselines', 'chunkSize', 'options'] as const;

/**
 * Explains an image classifier's decision: the input with the attribution drawn over it, a method picker, the
 * top-k predictions (choose one to explain it), colormap, sign, opacity and a legend. Runs as soon as it has a
 * model and an input; a new input or option aborts the run in flight.
 *
 * ```html
 * <gradlens-explainer model="models/digits.onnx" src="samples/digits/7_0028.png"></gradlens-explainer>
 * ```
 *
 * @event {GradlensLoadEvent} gradlens-load - The model is loaded: `{ model, inputShape }`.
 * @event {GradlensProgressEvent} gradlens-progress - A chunk of the run is done: `{ done, total, fraction }`.
 * @event {GradlensResultEvent} gradlens-result - The attribution is ready: `{ explanation, ms }`.
 * @event {GradlensErrorEvent} gradlens-error - Loading, reading the input or running failed: `{ code, message, error }`.
 * @csspart controls - The method and display options.
 * @csspart option - A method option's input, generated from its spec (`data-option` is its key).
 * @csspart predictions - The top-k predictions (buttons).
 * @csspart progress - The progress bar and cancel button while a run is going.
 * @csspart heatmap - The `<gradlens-heatmap>`; its `canvas` and `legend` parts are exported.
 * @csspart canvas - The overlay.
 * @csspart legend - The colour scale.
 * @csspart status - The state line: loading, error, WebGPU unavailable.
 * @cssproperty --gradlens-accent - Focus rings, the chosen prediction and the progress bar.
 * @cssproperty --gradlens-heatmap-size - The overlay's displayed width.
 * @cssproperty --gradlens-fg - Text colour.
 * @cssproperty --gradlens-bg - Background colour.
 * @cssproperty --gradlens-border - Borders.
 * @cssproperty --gradlens-error - Error text.
 */
export class GradlensExplainer extends InputElement {
  static override styles = [
    themeStyles,
    controlStyles,
    css`
      .layout {
        display: flex;
        flex-wrap: wrap;
        gap: 12px;
        align-items: flex-start;
      }
      .side {
        display: flex;
        flex-direction: column;
        gap: 8px;
        min-width: 12em;
      }
    `,
  ];

  static override properties: PropertyDeclarations = {
    method: { reflect: true },
    steps: { type: Number },
    samples: { type: Number },
    noise: { type: Number },
    baseline: {},
    layer: {},
    target: { converter: { fromAttribute: parseTarget } },
    seed: { type: Number },
    chunkSize: { type: Number, attribute: 'chunk-size' },
    baselines: { attribute: false },
    options: { type: Object },
    labels: { converter: commaList },
    topK: { type: Number, attribute: 'top-k' },
    colormap: { reflect: true },
    sign: { reflect: true },
    opacity: { type: Number },
    noControls: { type: Boolean, attribute: 'no-controls' },
    theme: { reflect: true },
    prepared: { state: true, attribute: false }, // attribute: false for the manifest analyzer, which reads state as an attribute
    predictions: { state: true, attribute: false },
    failure: { state: true, attribute: false },
    phase: { state: true, attribute: false },
  };

  /** The method id, kebab-case. */
  declare method: MethodId;
  /** Path steps (integrated gradients and the path methods). */
  declare steps: number | undefined;
  /** Noise samples (SmoothGrad family, expected gradients). */
  declare samples: number | undefined;
  /** Noise σ as a fraction of the input's range (absolute σ for GradientSHAP). */
  declare noise: number | undefined;
  /** Where the integrated-gradients path starts: 'zeros', 'uniform' or 'blur'. */
  declare baseline: BaselineName;
  /** The layer of the Grad-CAM family; default the last convolution's. */
  declare layer: string | undefined;
  /**
   * The class to explain (default the top prediction), or a step/region target of a sequence or dense output:
   * `{ step, class }` / `{ region: [x0, y0, x1, y1] }` (JSON as an attribute). The status line says which was used.
   */
  declare target: Target | undefined;
  /** Seeds every random draw, so runs repeat. */
  declare seed: number;
  /** Points per GPU chunk (default: from the memory budget); smaller chunks report progress more often. */
  declare chunkSize: number | undefined;
  /** Expected gradients / GradientSHAP: the baseline set (k × input size); default zeros and the input's mean. */
  declare baselines: Float32Array | undefined;
  /**
   * The method's other options by key, as explain() takes them (LRP's `composite`, `epsilon`, `neuron`, …): an object
   * (property) or JSON (attribute). Only the selected method's own options are passed; the controls edit them.
   */
  declare options: Record<string, MethodOptionValue>;
  /** Class names, comma-separated (attribute) or an array (property). */
  declare labels: string[];
  /** How many predictions to list. */
  declare topK: number;
  /** 'viridis' (default, colour-blind safe), 'turbo', 'rdbu-r' or 'gray'. */
  declare colormap: ColormapName;
  /** 'abs' (default), 'positive', 'negative' or 'signed' (use 'rdbu-r' with it). */
  declare sign: Sign;
  /** The map's opacity over the image, 0 to 1. */
  declare opacity: number;
  /** Hides the option pickers (the predictions stay). */
  declare noControls: boolean;
  /** 'light' or 'dark' forces that palette here and in the heat map; default the system's. */
  declare theme: Theme;

  /** The widget's model and runs, free of the DOM. */
  readonly controller = new ExplainController(widgetEvents(this, (error) => this.fail(error)));

  declare private prepared: PreparedInput | undefined;
  declare private predictions: Prediction[];
  declare private failure: GradlensError | undefined;
  declare private phase: 'idle' | 'reading';

  constructor() {
    super();
    this.method = 'integrated-gradients';
    this.baseline = 'zeros';
    this.seed = 0;
    this.options = {};
    this.labels = [];
    this.topK = 3;
    this.colormap = 'viridis';
    this.sign = 'abs';
    this.opacity = 0.6;
    this.noControls = false;
    this.predictions = [];
    this.phase = 'idle';
  }

  private generation = 0;
  private loadingModel: Promise<unknown> = Promise.resolve();

  /** Settles when the work started by the latest change is over (done, failed or superseded). */
  settled: Promise<void> = Promise.resolve();

  /** The model's input for the current image or tensor (after preprocessing); undefined until it is read. */
  get preparedInput(): Float32Array | undefined {
    return this.prepared?.tensor;
  }

  /** Stops the run in flight. */
  cancel(): void {
    this.controller.cancel();
  }

  protected override updated(changed: PropertyValues<this>): void {
    const has = (names: readonly string[]) => names.some((name) => changed.has(name as keyof GradlensExplainer));
    if (has(MODEL_OPTIONS)) this.settled = this.refresh('model');
    else if (has(INPUT_OPTIONS)) this.settled = this.refresh('input');
    else if (has(RUN_OPTIONS)) this.settled = this.refresh('run');
  }

  private async refresh(from: 'model' | 'input' | 'run'): Promise<void> {
    const generation = ++this.generation;
    const stale = () => generation !== this.generation;
    this.controller.cancel();
    await Promise.resolve(); // out of updated(): the state set below schedules the next update
    this.failure = undefined;
    try {
      if (from === 'model') {
        this.prepared = undefined;
        this.predictions = [];
        if (this.model === undefined || this.model === '') return;
        this.loadingModel = this.controller.load(this.model);
      }
      await this.loadingModel;
      const model = this.controller.model;
      if (stale() || !model) return;
      if (from !== 'run' || !this.prepared) {
        this.prepared = undefined;
        this.predictions = [];
        const source = this.image ?? this.src;
        if (!this.tensor && !source) return;
        this.phase = 'reading';
        const prepared = this.tensor ? prepareTensor(this.tensor, model.inputShape) : await prepareImage(source!, model.inputShape, this.preprocess);
        if (stale()) return;
        const predictions = await this.controller.predict(prepared.tensor, this.topK, classNames(this.labels, this.controller.model));
        if (stale()) return;
        [this.prepared, this.predictions, this.phase] = [prepared, predictions, 'idle'];
      }
      const options = runOptions(this, this.prepared.tensor, model.inputShape, this.baselines);
      await this.controller.run(this.prepared.tensor, options);
    } catch (error) {
      if (stale()) return;
      if (error !== this.controller.error) this.fail(asGradlensError(error));
    } finally {
      if (!stale()) this.phase = 'idle';
    }
  }

  private fail(error: GradlensError): void {
    this.failure = error;
    this.phase = 'idle';
    fire(this, 'gradlens-error', errorDetail(error));
  }

  private choose(index: number): void {
    this.target = index;
  }

  protected override render() {
    const controller = this.controller;
    const result = this.prepared ? controller.result : undefined;
    const targetIndex = result?.target[0];
    const names = classNames(this.labels, this.controller.model);
    const label = (i: number | undefined) => (i === undefined ? '' : (names[i] ?? String(i)));
    return html`
      ${this.noControls ? nothing : this.controls()}
      <div class="layout">
        ${
          result
            ? heatmapView(result, this, this.prepared?.image, `${this.method} for ${label(targetIndex)}`, { exportparts: 'canvas, legend' })
            : nothing
        }
        <div class="side">
          ${predictionList(this.predictions, targetIndex ?? (typeof this.target === 'number' ? this.target : undefined), (i) => this.choose(i))}
          ${controller.status === 'running' ? progressView(controller.progress, () => this.cancel()) : nothing} ${this.statusLine()}
        </div>
      </div>
    `;
  }

  private statusLine() {
    const need =
      this.phase === 'reading' ? 'Reading the input…' : this.controller.status === 'ready' && !this.prepared ? 'Set an input to explain.' : undefined;
    const retry = () => (this.settled = this.refresh(this.controller.model ? 'input' : 'model'));
    const used = this.controller.status === 'done' ? targetWords(this.controller.result?.outputTarget) : undefined;
    const text = runStatus(this.controller, this.model !== undefined, need);
    return statusView(this.failure, retry, used ? `${text} Target: ${used}.` : text);
  }

  private controls() {
    const shown = optionsOf(this.method);
    const layers = this.controller.model ? layerCandidates(this.controller.model.graph.nodes) : [];
    const set =
      <K extends keyof this>(key: K, parse: (v: string) => unknown) =>
      (event: Event) => {
        (this as Record<K, unknown>)[key] = parse((event.target as HTMLInputElement | HTMLSelectElement).value);
      };
    const number = (v: string) => Number(v);
    const optional = (v: string) => (v.trim() === '' ? undefined : Number(v)); // empty: the method's default
    return html`<form part="controls" @submit=${(e: Event) => e.preventDefault()}>
      ${choiceView('Method', METHOD_IDS, this.method, set('method', String))}
      ${shown.steps ? html`<label>Steps <input type="number" min="1" max="512" placeholder=${placeholder(this.method, 'steps')} .value=${this.steps === undefined ? '' : String(this.steps)} @change=${set('steps', optional)} /></label>` : nothing}
      ${shown.samples ? html`<label>Samples <input type="number" min="1" max="256" placeholder=${placeholder(this.method, 'samples')} .value=${this.samples === undefined ? '' : String(this.samples)} @change=${set('samples', optional)} /></label>` : nothing}
      ${shown.noise ? html`<label>Noise <input type="number" min="0" step="0.05" placeholder=${placeholder(this.method, hasOption(this.method, 'stdevFraction') ? 'stdevFraction' : 'stdev')} .value=${this.noise === undefined ? '' : String(this.noise)} @change=${set('noise', optional)} /></label>` : nothing}
      ${shown.baseline ? choiceView('Baseline', BASELINE_NAMES, this.baseline, set('baseline', String)) : nothing}
      ${
        shown.layer
          ? html`<label
              >Layer
              <select @change=${set('layer', (v) => v || undefined)}>
                <option value="">default (last conv)</option>
                ${layers.map((l) => html`<option ?selected=${l === this.layer}>${l}</option>`)}
              </select></label
            >`
          : nothing
      }
      ${optionInputs(this.method).map((o) =>
        optionInputView(o, this.options[o.key], (value) => (this.options = withOption(this.options, o.key, value))),
      )}
      ${choiceView('Colormap', COLORMAPS, this.colormap, set('colormap', String))} ${choiceView('Sign', SIGNS, this.sign, set('sign', String))}
      <label>Opacity <input type="range" min="0" max="1" step="0.05" .value=${String(this.opacity)} @input=${set('opacity', number)} /></label>
    </form>`;
  }
}

customElements.define('gradlens-explainer', GradlensExplainer);

declare global {
  interface HTMLElementTagNameMap {
    'gradlens-explainer': GradlensExplainer;
  }
}
