import { css, html, LitElement, nothing, type PropertyDeclarations, type PropertyValues } from 'lit';
import {
  tokenize,
  tokenShades,
  tokenPeak,
  type GradlensError,
  type MethodId,
  type ModelSource,
  type TokenExplanation,
  type TokenShade,
} from '../src/index.ts';
import { errorDetail, fire, widgetEvents } from './events.ts';
import { asGradlensError, ExplainController, isWebGpuMissing, type Prediction, type RunOptions } from './explain-controller.ts';
import { themeStyles, type Theme } from './styles.ts';
import { formatSigned, tokenSummary } from './summary.ts';
import { classNames, commaList, controlStyles, errorView, predictionList, progressView } from './views.ts';

// At the token embedding: LayerIntegratedGradients and LayerGradientXActivation (src/attribution/tokens.ts).
const TEXT_METHODS: MethodId[] = ['integrated-gradients', 'gradient-x-input'];

/**
 * Which tokens of a text made a text model decide what it did: each token shaded by its signed attribution (towards
 * the target in the positive colour, against it in the negative), with a legend. The attribution is taken at the token
 * embedding output and summed over the embedding (Captum's LayerIntegratedGradients on the embedding layer). Give it a
 * model and `text` (split by a word-level vocabulary from the model's metadata) or `ids` (and `tokens`), or only
 * `tokens` and an `attribution` to draw them.
 *
 * Keyboard: Tab reaches the tokens, the arrow keys, Home and End move between them; each token's name for screen
 * readers is the token and its value, and the value of the focused token is shown below the text.
 *
 * ```html
 * <gradlens-text model="models/sentiment.onnx" text="the movie was not good"></gradlens-text>
 * ```
 *
 * @event {GradlensLoadEvent} gradlens-load - The model is loaded: `{ model, inputShape }`.
 * @event {GradlensProgressEvent} gradlens-progress - A chunk of the run is done: `{ done, total, fraction }`.
 * @event {GradlensResultEvent} gradlens-result - The attribution is ready: `{ explanation, ms }` (a token explanation: `tokens`).
 * @event {GradlensErrorEvent} gradlens-error - Loading or running failed: `{ code, message, error }`.
 * @csspart controls - The method and reduction pickers.
 * @csspart predictions - The predictions (buttons: choose the class to explain).
 * @csspart tokens - The text, one list item per token, wrapping as text does.
 * @csspart token - One token.
 * @csspart detail - The focused token's value.
 * @csspart legend - The colour scale: −peak … 0 … +peak.
 * @csspart status - The state line.
 * @cssproperty --gradlens-positive - Tokens that raise the target's score (default ColorBrewer red).
 * @cssproperty --gradlens-negative - Tokens that lower it (default ColorBrewer blue).
 * @cssproperty --gradlens-fg - Text colour.
 * @cssproperty --gradlens-bg - Background colour.
 */
export class GradlensText extends LitElement {
  static override styles = [
    themeStyles,
    controlStyles,
    css`
      .tokens {
        display: flex;
        flex-wrap: wrap;
        gap: 4px 2px;
        margin: 8px 0;
        padding: 0;
        list-style: none;
        line-height: 1.8;
        flex-direction: row;
      }
      [part='token'] {
        padding: 0 4px;
        border-radius: 3px;
        border: 1px solid transparent;
        overflow-wrap: anywhere;
        cursor: default;
      }
      [part='token']:focus-visible {
        outline: 2px solid var(--_accent);
        outline-offset: 1px;
      }
      .legend {
        display: grid;
        grid-template-columns: max-content minmax(8em, 16em) max-content;
        gap: 2px 8px;
        align-items: center;
        font-size: 0.85em;
        color: var(--_muted);
        font-variant-numeric: tabular-nums;
      }
      .scale {
        height: 10px;
        border-radius: 2px;
        border: 1px solid var(--_border);
        background: linear-gradient(to right, var(--_negative), transparent, var(--_positive));
      }
      .caption {
        margin: 2px 0 0;
        font-size: 0.85em;
        color: var(--_muted);
      }
      .detail {
        min-height: 1.4em;
        margin: 4px 0;
        font-variant-numeric: tabular-nums;
      }
      .top {
        display: flex;
        gap: 16px;
        flex-wrap: wrap;
        align-items: flex-start;
      }
    `,
  ];

  static override properties: PropertyDeclarations = {
    model: {},
    text: {},
    ids: { attribute: false },
    tokens: { attribute: false },
    attribution: { attribute: false },
    method: { reflect: true },
    steps: { type: Number },
    target: { type: Number },
    seed: { type: Number },
    baselineToken: { type: Number, attribute: 'baseline-token' },
    reduce: {},
    labels: { converter: commaList },
    noControls: { type: Boolean, attribute: 'no-controls' },
    theme: { reflect: true },
    predictions: { state: true, attribute: false },
    failure: { state: true, attribute: false },
    focused: { state: true, attribute: false },
  };

  /** The ONNX text model: a URL (attribute) or bytes, an ArrayBuffer or a graph (property). Its input is integer ids. */
  declare model: ModelSource | undefined;
  /** The text to explain, split into tokens by the model's word-level vocabulary (its metadata). */
  declare text: string | undefined;
  /** Token ids to explain instead of `text` (for a model with its own tokenizer). */
  declare ids: ArrayLike<number> | undefined;
  /** The tokens shown, one per id (default: from `text`, or the model's vocabulary). */
  declare tokens: readonly string[] | undefined;
  /** Per-token attributions to draw without a model (presentational use). */
  declare attribution: ArrayLike<number> | undefined;
  /** The method id, kebab-case. */
  declare method: MethodId;
  /** Path steps (integrated gradients). */
  declare steps: number | undefined;
  /** The class to explain; default the top prediction. */
  declare target: number | undefined;
  /** Seeds every random draw, so runs repeat. */
  declare seed: number;
  /** Paths start from every id replaced by this one (a [PAD] or [MASK] id); default zero embeddings. */
  declare baselineToken: number | undefined;
  /** Per token: 'sum' over the embedding (signed, default) or 'l2'. */
  declare reduce: 'sum' | 'l2';
  /** Class names, comma-separated (attribute) or an array (property); default the model's. */
  declare labels: string[];
  /** Hides the pickers. */
  declare noControls: boolean;
  /** 'light' or 'dark' forces that palette (default: the system's). */
  declare theme: Theme;

  /** The widget's model and runs, free of the DOM. */
  readonly controller = new ExplainController(widgetEvents(this, (error) => this.fail(error)));

  declare private predictions: Prediction[];
  declare private failure: GradlensError | undefined;
  declare private focused: number;

  constructor() {
    super();
    this.method = 'integrated-gradients';
    this.seed = 0;
    this.reduce = 'sum';
    this.labels = [];
    this.noControls = false;
    this.predictions = [];
    this.focused = 0;
  }

  private generation = 0;
  private loadingModel: Promise<unknown> = Promise.resolve();
  /** Tokens of the last text or ids explained. */
  private explained: readonly string[] = [];
  /** Settles when the work started by the latest change is over (done, failed or superseded). */
  settled: Promise<void> = Promise.resolve();

  /** Stops the run in flight. */
  cancel(): void {
    this.controller.cancel();
  }

  /** The tokens with their shades, as drawn: the given attribution, else the last run's per-token values. */
  get shades(): TokenShade[] {
    const values = this.attribution ?? (this.controller.result as TokenExplanation | undefined)?.tokens;
    if (!values) return [];
    return tokenShades(this.attribution ? (this.tokens ?? []) : this.explained, values);
  }

  protected override updated(changed: PropertyValues<this>): void {
    const has = (names: string[]) => names.some((name) => changed.has(name as keyof GradlensText));
    if (has(['model'])) this.settled = this.refresh(true);
    else if (has(['text', 'ids', 'tokens', 'method', 'steps', 'target', 'seed', 'baselineToken', 'reduce'])) this.settled = this.refresh(false);
  }

  private async refresh(reload: boolean): Promise<void> {
    const generation = ++this.generation;
    const stale = () => generation !== this.generation;
    this.controller.cancel();
    await Promise.resolve();
    this.failure = undefined;
    try {
      if (reload && this.model !== undefined && this.model !== '') this.loadingModel = this.controller.load(this.model);
      await this.loadingModel;
      const model = this.controller.model;
      if (stale() || !model || (this.ids === undefined && !this.text)) return;
      const { ids, tokens } = this.ids
        ? { ids: Array.from(this.ids), tokens: this.tokens ?? Array.from(this.ids, (id) => model.vocabulary[id] ?? `#${id}`) }
        : tokenize(this.text!, model.vocabulary);
      const input = Float32Array.from(ids);
      const names = classNames(this.labels, model);
      this.predictions = await this.controller.predict(input, names.length || 3, names);
      if (stale()) return;
      const options: RunOptions = { method: this.method, seed: this.seed, reduce: this.reduce };
      if (this.steps !== undefined) options.steps = this.steps;
      if (this.target !== undefined) options.target = this.target;
      if (this.baselineToken !== undefined) options.baselineToken = this.baselineToken;
      this.explained = tokens;
      this.focused = Math.min(this.focused, tokens.length - 1);
      await this.controller.run(input, options);
    } catch (error) {
      if (!stale() && error !== this.controller.error) this.fail(asGradlensError(error));
    }
  }

  private fail(error: GradlensError): void {
    this.failure = error;
    fire(this, 'gradlens-error', errorDetail(error));
  }

  protected override render() {
    const shades = this.shades;
    const result = this.controller.result;
    const target = result?.target[0] ?? this.target;
    const targetName = target === undefined ? 'the prediction' : (classNames(this.labels, this.controller.model)[target] ?? `class ${target}`);
    const focused = shades[this.focused];
    return html`
      ${this.noControls || this.attribution ? nothing : this.controls()}
      <div class="top">
        ${predictionList(this.predictions, target, (i) => (this.target = i))}
        ${this.controller.status === 'running' ? progressView(this.controller.progress, () => this.cancel()) : nothing}
      </div>
      ${
        shades.length
          ? html`<p class="visually-hidden" id="summary">Towards ${targetName}: ${tokenSummary(shades)}</p>
              <ol
                part="tokens"
                class="tokens"
                aria-describedby="summary"
                aria-label="Tokens coloured by attribution towards ${targetName}"
                @keydown=${(e: KeyboardEvent) => this.move(e, shades.length)}
              >
                ${shades.map((shade, i) => this.token(shade, i, targetName))}
              </ol>
              <p part="detail" class="detail" aria-hidden="true">
                ${focused ? html`<strong>${focused.token}</strong>: ${formatSigned(focused.value)} ${this.units()}` : nothing}
              </p>
              ${this.legend(shades, targetName)}`
          : nothing
      }
      ${this.statusLine()}
    `;
  }

  private token(shade: TokenShade, index: number, targetName: string) {
    const colour = shade.sign > 0 ? 'var(--_positive)' : 'var(--_negative)';
    const percent = Math.round(shade.strength * 100);
    // Strong shades get the background's colour for text, so the token stays readable on either theme.
    const style = `background: color-mix(in srgb, ${colour} ${percent}%, transparent);${percent > 55 ? ' color: var(--_bg);' : ''}`;
    const direction = shade.sign > 0 ? `towards ${targetName}` : shade.sign < 0 ? `against ${targetName}` : 'neutral';
    return html`<li
      part="token"
      tabindex=${index === this.focused ? 0 : -1}
      style=${style}
      title="${shade.token}: ${formatSigned(shade.value)}"
      aria-label="${shade.token}: ${formatSigned(shade.value)}, ${direction}"
      data-index=${index}
      @focus=${() => (this.focused = index)}
    >
      ${shade.token}
    </li>`;
  }

  /** Roving focus over the tokens: arrows, Home, End. */
  private move(event: KeyboardEvent, count: number): void {
    const to = {
      ArrowRight: this.focused + 1,
      ArrowDown: this.focused + 1,
      ArrowLeft: this.focused - 1,
      ArrowUp: this.focused - 1,
      Home: 0,
      End: count - 1,
    }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    this.focused = Math.max(0, Math.min(count - 1, to));
    void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>(`[part='token'][data-index='${this.focused}']`)?.focus());
  }

  private units(): string {
    const result = this.controller.result;
    return result ? String(result.options.score ?? 'logit') : '';
  }

  private legend(shades: readonly TokenShade[], targetName: string) {
    const peak = tokenPeak(shades.map((s) => s.value));
    return html`<div part="legend">
      <div
        class="legend"
        role="img"
        aria-label="Colour scale from ${formatSigned(-peak)} (against ${targetName}) to ${formatSigned(peak)} (towards it)"
      >
        <span>${formatSigned(-peak)}</span><span class="scale"></span><span>${formatSigned(peak)}</span>
      </div>
      <p class="caption">
        ← against ${targetName} · towards ${targetName} → (${this.attribution ? 'attribution' : `${this.reduce} over the embedding, ${this.units()}`})
      </p>
    </div>`;
  }

  private statusLine() {
    if (this.failure) return errorView(this.failure, isWebGpuMissing(this.failure), () => (this.settled = this.refresh(!this.controller.model)));
    const status = this.controller.status;
    const text = this.attribution
      ? ''
      : this.model === undefined
        ? 'Set a model to explain.'
        : status === 'loading'
          ? 'Loading the model…'
          : status === 'ready' && this.ids === undefined && !this.text
            ? 'Set a text or ids to explain.'
            : status === 'done' && this.controller.result
              ? `Done in ${Math.round(this.controller.result.timing.ms)} ms.`
              : '';
    return html`<p part="status" class="muted" role="status" aria-live="polite">${text}</p>`;
  }

  private controls() {
    return html`<form part="controls" @submit=${(e: Event) => e.preventDefault()}>
      <label
        >Method
        <select @change=${(e: Event) => (this.method = (e.target as HTMLSelectElement).value as MethodId)}>
          ${TEXT_METHODS.map((id) => html`<option ?selected=${id === this.method}>${id}</option>`)}
        </select>
      </label>
      <label
        >Per token
        <select @change=${(e: Event) => (this.reduce = (e.target as HTMLSelectElement).value as 'sum' | 'l2')}>
          <option value="sum" ?selected=${this.reduce === 'sum'}>sum (signed)</option>
          <option value="l2" ?selected=${this.reduce === 'l2'}>L2 norm</option>
        </select>
      </label>
    </form>`;
  }
}

customElements.define('gradlens-text', GradlensText);

declare global {
  interface HTMLElementTagNameMap {
    'gradlens-text': GradlensText;
  }
}
