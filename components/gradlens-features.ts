import { css, html, LitElement, type PropertyDeclarations, nothing, type PropertyValues } from 'lit';
import type { GradlensError, MethodId, ModelSource } from '../src/index.ts';
import { errorDetail, fire, widgetEvents } from './events.ts';
import { asGradlensError, ExplainController, type Prediction } from './explain-controller.ts';
import { prepareTensor } from './image-input.ts';
import { optionInputs, runOptions, withOption, type MethodOptionValue } from './method-options.ts';
import { themeStyles } from './styles.ts';
import { featureSummary, scoreUnits, formatNumber, formatSigned, rankFeatures, type FeatureContribution } from './summary.ts';
import {
  choiceView,
  classNames,
  commaList,
  controlStyles,
  optionInputView,
  predictionsAndProgress,
  Refresh,
  runStatus,
  statusView,
} from './views.ts';

const TABULAR_METHODS: MethodId[] = ['integrated-gradients', 'gradient-x-input', 'saliency', 'smoothgrad', 'expected-gradients', 'gradient-shap'];

/**
 * Why a tabular model decided what it did: each feature's signed contribution as a bar, largest first, with the
 * feature's name and value. Give it a model and a row (`values`), or an `attribution` directly to only draw it.
 *
 * ```html
 * <gradlens-features model="models/tabular.onnx" labels="malignant,benign"></gradlens-features>
 * <script>features.values = row; features.featureNames = header;</script>
 * ```
 *
 * @event {GradlensLoadEvent} gradlens-load - The model is loaded: `{ model, inputShape }`.
 * @event {GradlensProgressEvent} gradlens-progress - A chunk of the run is done: `{ done, total, fraction }`.
 * @event {GradlensResultEvent} gradlens-result - The attribution is ready: `{ explanation, ms }`.
 * @event {GradlensErrorEvent} gradlens-error - Loading or running failed: `{ code, message, error }`.
 * @csspart controls - The method picker.
 * @csspart predictions - The predictions (buttons: choose the class to explain).
 * @csspart bars - The list of features (role="img" is not used: it is a real list, read row by row).
 * @csspart bar - One feature's bar.
 * @csspart key - What the two bar colours mean.
 * @csspart status - The state line.
 * @cssproperty --gradlens-positive - Bars that raise the target's score (default ColorBrewer red).
 * @cssproperty --gradlens-negative - Bars that lower it (default ColorBrewer blue).
 * @cssproperty --gradlens-fg - Text colour.
 * @cssproperty --gradlens-bg - Background colour.
 */
export class GradlensFeatures extends LitElement {
  static override styles = [
    themeStyles,
    controlStyles,
    css`
      .bars {
        display: grid;
        grid-template-columns: minmax(8em, max-content) max-content minmax(8em, 1fr) max-content;
        gap: 2px 8px;
        align-items: center;
        margin: 0;
        padding: 0;
      }
      .row,
      .header {
        display: contents;
      }
      .value,
      .contribution {
        font-variant-numeric: tabular-nums;
        text-align: right;
      }
      .track {
        position: relative;
        height: 12px;
        border-left: 1px solid transparent;
      }
      .track::before {
        content: '';
        position: absolute;
        left: 50%;
        top: -2px;
        bottom: -2px;
        border-left: 1px solid var(--_border);
      }
      [part='bar'] {
        position: absolute;
        top: 0;
        bottom: 0;
        border-radius: 2px;
      }
      .positive {
        background: var(--_positive);
      }
      .negative {
        background: var(--_negative);
      }
      .header > span {
        font-size: 0.85em;
        font-weight: 600;
        color: var(--_muted);
      }
      .key {
        display: flex;
        gap: 16px;
        font-size: 0.85em;
        color: var(--_muted);
        margin: 6px 0 0;
      }
      .swatch {
        display: inline-block;
        width: 10px;
        height: 10px;
        border-radius: 2px;
        margin-right: 4px;
      }
    `,
  ];

  static override properties: PropertyDeclarations = {
    model: {},
    values: { attribute: false },
    featureNames: { attribute: 'feature-names', converter: commaList },
    attribution: { attribute: false },
    method: { reflect: true },
    steps: { type: Number },
    samples: { type: Number },
    noise: { type: Number },
    baseline: { attribute: false },
    baselines: { attribute: false },
    options: { type: Object },
    target: { type: Number },
    seed: { type: Number },
    labels: { converter: commaList },
    maxFeatures: { type: Number, attribute: 'max-features' },
    noControls: { type: Boolean, attribute: 'no-controls' },
    predictions: { state: true, attribute: false }, // attribute: false for the manifest analyzer, which reads state as an attribute
    failure: { state: true, attribute: false },
  };

  /** The ONNX model: a URL (attribute) or bytes, an ArrayBuffer or a graph (property). */
  declare model: ModelSource | undefined;
  /** The row to explain, one value per feature, in the model's order. */
  declare values: ArrayLike<number> | undefined;
  /** Feature names, comma-separated (attribute) or an array (property). */
  declare featureNames: string[];
  /** An attribution to draw without a model (presentational use). */
  declare attribution: ArrayLike<number> | undefined;
  /** The method id, kebab-case. */
  declare method: MethodId;
  /** Path steps (integrated gradients). */
  declare steps: number | undefined;
  /** Noise samples (SmoothGrad, GradientSHAP, expected gradients). */
  declare samples: number | undefined;
  /** Noise σ as a fraction of the input's range. */
  declare noise: number | undefined;
  /** Where the path starts (integrated gradients): a row, e.g. the training means; default zeros. */
  declare baseline: Float32Array | undefined;
  /** Baseline rows for expected gradients / GradientSHAP (k × features). */
  declare baselines: Float32Array | undefined;
  /** The method's other options by key, as explain() takes them: an object (property) or JSON (attribute). */
  declare options: Record<string, MethodOptionValue>;
  /** The class to explain; default the top prediction. */
  declare target: number | undefined;
  /** Seeds every random draw, so runs repeat. */
  declare seed: number;
  /** Class names, comma-separated (attribute) or an array (property). */
  declare labels: string[];
  /** How many features to show, largest contributions first. */
  declare maxFeatures: number;
  /** Hides the method picker. */
  declare noControls: boolean;

  /** The widget's model and runs, free of the DOM. */
  readonly controller = new ExplainController(widgetEvents(this, (error) => this.fail(error)));

  declare private predictions: Prediction[];
  declare private failure: GradlensError | undefined;

  constructor() {
    super();
    this.featureNames = [];
    this.method = 'integrated-gradients';
    this.seed = 0;
    this.options = {};
    this.labels = [];
    this.maxFeatures = 10;
    this.noControls = false;
    this.predictions = [];
  }

  private readonly refresher = new Refresh(this.controller, (error) => this.fail(error));
  /** Settles when the work started by the latest change is over (done, failed or superseded). */
  settled: Promise<void> = Promise.resolve();

  /** Stops the run in flight. */
  cancel(): void {
    this.controller.cancel();
  }

  /** The features in the order shown, with their contributions. */
  get ranked(): FeatureContribution[] {
    const attribution = this.attribution ?? this.controller.result?.attribution;
    if (!attribution) return [];
    return rankFeatures(this.featureNames, this.values ?? [], attribution);
  }

  protected override updated(changed: PropertyValues<this>): void {
    const has = (names: string[]) => names.some((name) => changed.has(name as keyof GradlensFeatures));
    if (has(['model'])) this.settled = this.refresh(true);
    else if (has(['values', 'method', 'steps', 'samples', 'noise', 'baseline', 'baselines', 'options', 'target', 'seed']))
      this.settled = this.refresh(false);
  }

  private refresh(reload: boolean): Promise<void> {
    this.failure = undefined;
    return this.refresher.run(reload, this.model, async (model, stale) => {
      if (!this.values) return;
      const { tensor } = prepareTensor(Float32Array.from(this.values), model.inputShape);
      const names = classNames(this.labels, this.controller.model);
      this.predictions = await this.controller.predict(tensor, names.length || 3, names);
      if (stale()) return;
      const { method, steps, samples, noise, target, seed, options: methodOptions } = this;
      const main = { method, steps, samples, noise, target, seed, options: methodOptions };
      const options = runOptions(main, tensor, model.inputShape, this.baselines);
      if (this.method === 'integrated-gradients' && this.baseline) options.baseline = this.baseline;
      await this.controller.run(tensor, options);
    });
  }

  private fail(error: GradlensError): void {
    this.failure = error;
    fire(this, 'gradlens-error', errorDetail(error));
  }

  protected override render() {
    const ranked = this.ranked.slice(0, this.maxFeatures);
    const scale = Math.max(...ranked.map((f) => Math.abs(f.contribution)), 1e-30);
    const result = this.controller.result;
    const target = result?.target[0] ?? this.target;
    const targetName = target === undefined ? 'the prediction' : (classNames(this.labels, this.controller.model)[target] ?? `class ${target}`);
    return html`
      ${this.noControls || this.attribution ? nothing : this.controls()}
      ${predictionsAndProgress(this.predictions, target, (i) => (this.target = i), this.controller)}
      ${
        ranked.length
          ? html`<p class="visually-hidden" id="summary">Towards ${targetName}: ${featureSummary(ranked)}</p>
              <ol part="bars" class="bars" aria-describedby="summary" aria-label="Feature contributions towards ${targetName}">
                <li class="header" aria-hidden="true">
                  <span>Feature</span><span class="value">Value</span><span>Contribution to ${targetName}</span>
                  <span class="contribution">${result ? scoreUnits(result) : ''}</span>
                </li>
                ${ranked.map((f) => this.bar(f, scale))}
              </ol>
              <p part="key" class="key">
                <span><span class="swatch positive"></span>pushes towards ${targetName}</span>
                <span><span class="swatch negative"></span>pushes away from it</span>
              </p>`
          : nothing
      }
      ${this.statusLine()}
    `;
  }

  private bar(feature: FeatureContribution, scale: number) {
    const width = (50 * Math.abs(feature.contribution)) / scale;
    const positive = feature.contribution >= 0;
    const style = positive ? `left: 50%; width: ${width}%` : `left: ${50 - width}%; width: ${width}%`;
    return html`<li class="row">
      <span class="name">${feature.name}</span>
      <span class="value muted">${formatNumber(feature.value)}</span>
      <span class="track" aria-hidden="true"><span part="bar" class=${positive ? 'positive' : 'negative'} style=${style}></span></span>
      <span class="contribution">${formatSigned(feature.contribution)}</span>
    </li>`;
  }

  private statusLine() {
    const need = this.controller.status === 'ready' && !this.values ? 'Set the values of a row to explain.' : undefined;
    const text = this.attribution ? '' : runStatus(this.controller, this.model !== undefined, need);
    return statusView(this.failure, () => (this.settled = this.refresh(!this.controller.model)), text);
  }

  private controls() {
    return html`<form part="controls" @submit=${(e: Event) => e.preventDefault()}>
      ${choiceView('Method', TABULAR_METHODS, this.method, (e: Event) => (this.method = (e.target as HTMLSelectElement).value as MethodId))}
      ${optionInputs(this.method).map((o) =>
        optionInputView(o, this.options[o.key], (value) => (this.options = withOption(this.options, o.key, value))),
      )}
    </form>`;
  }
}

customElements.define('gradlens-features', GradlensFeatures);

declare global {
  interface HTMLElementTagNameMap {
    'gradlens-features': GradlensFeatures;
  }
}
