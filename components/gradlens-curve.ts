import { css, html, LitElement, type PropertyDeclarations, nothing, svg, type PropertyValues } from 'lit';
import { LensModel, type GradlensError, type ModelSource } from '../src/index.ts';
import type { Replacement } from '../src/metrics/index.ts';
import { aucOf, computeCurves, curveSummary, pathOf, pct, scoreDomain, type CurveMode, type CurveSeries, type Frame } from './curve.ts';
import { errorDetail, fire } from './events.ts';
import { asGradlensError, ExplainController } from './explain-controller.ts';
import { figureStyles, themeStyles } from './styles.ts';
import { formatNumber } from './summary.ts';
import { statusView } from './views.ts';

const WIDTH = 360;
const HEIGHT = 220;
/** The plotting area inside the 360 × 220 viewBox: room on the left and below for ticks and axis labels. */
const FRAME: Frame = { x: 48, y: 10, width: 296, height: 160 };
/** Okabe–Ito: distinguishable with the common colour-vision deficiencies. */
const PALETTE = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9'];

/**
 * A deletion or insertion curve (Petsiuk 2018): the model's score as the most relevant features are removed
 * (or inserted), with the area under the curve in the legend. Give it `curves` to draw, or a `model`, an `input`
 * and its `attribution` to compute them on the page's shared device.
 *
 * ```html
 * <gradlens-curve mode="both" steps="20"></gradlens-curve>
 * <script>curve.model = "models/tabular.onnx"; curve.input = row; curve.attribution = explanation.attribution;</script>
 * ```
 *
 * @event {GradlensLoadEvent} gradlens-load - The model named by URL is loaded: `{ model, inputShape }`.
 * @event {GradlensCurveEvent} gradlens-curve - The curves are computed: `{ series, ms }` (each series with its `fractions`, `scores`, `auc`).
 * @event {GradlensErrorEvent} gradlens-error - Loading or computing failed: `{ code, message, error }`.
 * @csspart chart - The SVG chart (role="img"; its label summarises each curve). Focusable: arrow keys move the readout.
 * @csspart line - Each curve's line.
 * @csspart axis - The axes with their ticks and labels.
 * @csspart legend - The series with their AUC.
 * @csspart readout - The scores at the pointed or focused fraction.
 * @csspart status - The state line.
 * @cssproperty --gradlens-curve-1 - The first series' colour (then --gradlens-curve-2 … -6; Okabe–Ito by default).
 * @cssproperty --gradlens-curve-width - The chart's displayed width (default 360px).
 * @cssproperty --gradlens-fg - Text and axis colour.
 * @cssproperty --gradlens-bg - Background colour.
 * @cssproperty --gradlens-muted - Grid lines and tick labels.
 * @cssproperty --gradlens-accent - The readout's cursor and the focus ring.
 */
export class GradlensCurve extends LitElement {
  static override styles = [
    themeStyles,
    figureStyles,
    css`
      figure {
        width: var(--gradlens-curve-width, 360px);
      }
      svg {
        width: 100%;
        height: auto;
        overflow: visible;
      }
      svg:focus-visible {
        outline: 2px solid var(--_accent);
        outline-offset: 2px;
        border-radius: var(--_radius);
      }
      .frame {
        fill: none;
        stroke: var(--_border);
      }
      .grid {
        stroke: var(--_border);
        stroke-dasharray: 2 3;
      }
      [part='axis'] text {
        fill: var(--_muted);
        font-size: 10px;
      }
      [part='axis'] .title {
        fill: var(--_fg);
        font-size: 11px;
      }
      [part='line'] {
        fill: none;
        stroke-width: 2;
        stroke-linejoin: round;
      }
      .cursor {
        stroke: var(--_accent);
      }
      [part='legend'] {
        list-style: none;
        margin: 0;
        padding: 0;
        display: flex;
        flex-wrap: wrap;
        gap: 4px 14px;
      }
      [part='legend'] li {
        display: inline-flex;
        gap: 6px;
        align-items: center;
        font-variant-numeric: tabular-nums;
      }
      .swatch {
        width: 14px;
        height: 3px;
        border-radius: 2px;
      }
      [part='readout'] {
        min-height: 1.4em;
        margin: 0;
        font-variant-numeric: tabular-nums;
      }
    `,
  ];

  static override properties: PropertyDeclarations = {
    curves: { attribute: false },
    model: {},
    input: { attribute: false },
    attribution: { attribute: false },
    mode: { reflect: true },
    steps: { type: Number },
    replacement: {},
    patch: { type: Number },
    target: { type: Number },
    score: {},
    seed: { type: Number },
    xLabel: { attribute: 'x-label' },
    yLabel: { attribute: 'y-label' },
    label: {},
    computed: { state: true, attribute: false }, // attribute: false for the manifest analyzer, which reads state as an attribute
    computing: { state: true, attribute: false },
    failure: { state: true, attribute: false },
    cursor: { state: true, attribute: false },
  };

  /** Curves to draw: one series or several, each `{ label, fractions, scores, auc? }` (property). Wins over computing. */
  declare curves: CurveSeries | readonly CurveSeries[] | undefined;
  /** The model to compute curves with: a URL (attribute), ONNX bytes, a graph, or a loaded `LensModel` (property). */
  declare model: ModelSource | LensModel | undefined;
  /** The input whose features are removed or inserted, in the model's input shape (property). */
  declare input: Float32Array | undefined;
  /** The attribution that orders the features, most relevant first (property). */
  declare attribution: Float32Array | undefined;
  /** 'deletion' (default), 'insertion' or 'both'. */
  declare mode: CurveMode | 'both';
  /** Points after the start; a few dozen is plenty for the AUC. */
  declare steps: number;
  /** What a removed feature becomes: 'zero', 'mean', 'blur' or 'noise' (default: zero for deletion, blur for insertion). */
  declare replacement: Replacement | undefined;
  /** Square patches of this many pixels as the features of an image (default: single pixels). */
  declare patch: number | undefined;
  /** The class scored; default the unperturbed input's top prediction. */
  declare target: number | undefined;
  /** 'probability' (default), 'logit' or 'log-probability'. */
  declare score: 'probability' | 'logit' | 'log-probability';
  /** Seeds the 'noise' replacement. */
  declare seed: number;
  /** The x axis' title; default from the mode. */
  declare xLabel: string | undefined;
  /** The y axis' title; default from the score. */
  declare yLabel: string | undefined;
  /** What the chart is of, read before the summary: e.g. "Integrated gradients on row 3". */
  declare label: string;

  /** Loads models named by URL, shared with the other widgets on the page. */
  readonly controller = new ExplainController({
    onStatus: () => this.requestUpdate(),
    onLoad: (model) => fire(this, 'gradlens-load', { model, inputShape: model.inputShape }),
    onError: (error) => this.fail(error),
  });

  declare private computed: CurveSeries[];
  declare private computing: boolean;
  declare private failure: GradlensError | undefined;
  /** The index of the fraction the readout shows, or undefined when none is pointed at. */
  declare cursor: number | undefined;

  constructor() {
    super();
    this.mode = 'deletion';
    this.steps = 20;
    this.score = 'probability';
    this.seed = 0;
    this.label = 'Perturbation curve';
    this.computed = [];
    this.computing = false;
  }

  private generation = 0;
  private loadingModel: Promise<unknown> = Promise.resolve();

  /** Settles when the work started by the latest change is over (done, failed or superseded). */
  settled: Promise<void> = Promise.resolve();

  /** The series drawn: the given `curves`, else the computed ones. */
  get series(): CurveSeries[] {
    if (this.curves) return Array.isArray(this.curves) ? [...this.curves] : [this.curves as CurveSeries];
    return this.computed;
  }

  /** In words: each curve's AUC and where its score starts and ends. */
  get summary(): string {
    return `${this.label}: ${curveSummary(this.series, formatNumber)}`;
  }

  protected override updated(changed: PropertyValues<this>): void {
    const has = (names: string[]) => names.some((name) => changed.has(name as keyof GradlensCurve));
    if (has(['curves'])) this.cursor = undefined;
    if (has(['model'])) this.settled = this.refresh(true);
    else if (has(['input', 'attribution', 'mode', 'steps', 'replacement', 'patch', 'target', 'score', 'seed'])) this.settled = this.refresh(false);
  }

  private async refresh(reload: boolean): Promise<void> {
    const generation = ++this.generation;
    const stale = () => generation !== this.generation;
    await Promise.resolve(); // out of updated(): the state set below schedules the next update
    this.failure = undefined;
    try {
      if (reload) {
        this.computed = [];
        if (this.model instanceof LensModel) this.controller.use(this.model);
        else if (this.model !== undefined && this.model !== '') this.loadingModel = this.controller.load(this.model);
      }
      await this.loadingModel;
      const model = this.controller.model;
      if (stale() || !model || !this.input || !this.attribution || this.curves) return;
      this.computing = true;
      const started = performance.now();
      const series = await computeCurves(model, this.input, this.attribution, {
        modes: this.mode === 'both' ? ['deletion', 'insertion'] : [this.mode],
        steps: this.steps,
        score: this.score,
        seed: this.seed,
        ...(this.replacement ? { replacement: this.replacement } : {}),
        ...(this.patch ? { granularity: { patch: this.patch } } : {}),
        ...(this.target !== undefined ? { target: this.target } : {}),
      });
      if (stale()) return;
      [this.computed, this.cursor] = [series, undefined];
      fire(this, 'gradlens-curve', { series, ms: performance.now() - started });
    } catch (error) {
      if (!stale() && error !== this.controller.error) this.fail(asGradlensError(error));
    } finally {
      if (!stale()) this.computing = false;
    }
  }

  private fail(error: GradlensError): void {
    this.failure = error;
    fire(this, 'gradlens-error', errorDetail(error));
  }

  /** The fractions the readout steps through: those of the longest series. */
  private get fractions(): ArrayLike<number> {
    return this.series.reduce<ArrayLike<number>>((longest, s) => (s.fractions.length > longest.length ? s.fractions : longest), []);
  }

  private onKey(event: KeyboardEvent): void {
    const last = this.fractions.length - 1;
    if (last < 0) return;
    const at = this.cursor;
    const next =
      event.key === 'ArrowRight' || event.key === 'ArrowUp'
        ? Math.min(last, at === undefined ? 0 : at + 1)
        : event.key === 'ArrowLeft' || event.key === 'ArrowDown'
          ? Math.max(0, at === undefined ? last : at - 1)
          : event.key === 'Home'
            ? 0
            : event.key === 'End'
              ? last
              : event.key === 'Escape'
                ? undefined
                : at;
    if (next === at && event.key !== 'Escape') return;
    event.preventDefault();
    this.cursor = next;
  }

  private onPointer(event: PointerEvent): void {
    const svgElement = event.currentTarget as SVGSVGElement;
    const box = svgElement.getBoundingClientRect();
    if (box.width === 0) return;
    const fraction = ((event.clientX - box.left) * (WIDTH / box.width) - FRAME.x) / FRAME.width;
    const fractions = this.fractions;
    let best: number | undefined;
    for (let k = 0; k < fractions.length; k++) {
      if (best === undefined || Math.abs(fractions[k]! - fraction) < Math.abs(fractions[best]! - fraction)) best = k;
    }
    this.cursor = best;
  }

  /** "at 40 % removed: deletion 0.31, insertion 0.77" — each series' score at (or nearest) the cursor's fraction. */
  get readout(): string {
    if (this.cursor === undefined) return '';
    const fraction = this.fractions[this.cursor];
    if (fraction === undefined) return '';
    const verb = this.mode === 'insertion' ? 'inserted' : this.mode === 'both' ? 'removed or inserted' : 'removed';
    const values = this.series.map((s) => {
      let k = 0;
      for (let j = 1; j < s.fractions.length; j++) if (Math.abs(s.fractions[j]! - fraction) < Math.abs(s.fractions[k]! - fraction)) k = j;
      return `${s.label} ${formatNumber(s.scores[k]!)}`;
    });
    return `at ${pct(fraction)} ${verb}: ${values.join(', ')}`;
  }

  protected override render() {
    const series = this.series;
    const domain = scoreDomain(series);
    const colour = (i: number) => `var(--gradlens-curve-${i + 1}, ${PALETTE[i % PALETTE.length]})`;
    const xTitle =
      this.xLabel ??
      (this.mode === 'insertion'
        ? 'fraction of features inserted'
        : this.mode === 'both'
          ? 'fraction of features removed / inserted'
          : 'fraction of features removed');
    const yTitle = this.yLabel ?? (this.score === 'probability' ? 'probability of the target' : this.score);
    const fraction = this.cursor === undefined ? undefined : this.fractions[this.cursor];
    return html`<figure>
      <svg
        part="chart"
        role="img"
        tabindex="0"
        aria-label=${this.summary}
        viewBox="0 0 ${WIDTH} ${HEIGHT}"
        @keydown=${this.onKey}
        @pointermove=${this.onPointer}
        @pointerleave=${() => (this.cursor = undefined)}
      >
        ${this.axes(domain, xTitle, yTitle)}
        ${series.map((s, i) => svg`<path part="line" data-label=${s.label} d=${pathOf(s, FRAME, domain)} style="stroke: ${colour(i)}"></path>`)}
        ${
          fraction === undefined
            ? nothing
            : svg`<line class="cursor" x1=${FRAME.x + fraction * FRAME.width} x2=${FRAME.x + fraction * FRAME.width} y1=${FRAME.y} y2=${FRAME.y + FRAME.height}></line>`
        }
      </svg>
      ${
        series.length
          ? html`<ul part="legend" aria-label="Curves and the areas under them">
              ${series.map((s, i) => html`<li><span class="swatch" style="background: ${colour(i)}"></span>${s.label}<span class="muted">AUC ${formatNumber(aucOf(s))}</span></li>`)}
            </ul>`
          : nothing
      }
      <p part="readout" aria-live="polite">${this.readout}</p>
      ${this.statusLine()}
    </figure>`;
  }

  private axes([low, high]: [number, number], xTitle: string, yTitle: string) {
    const { x, y, width, height } = FRAME;
    const xTicks = [0, 0.25, 0.5, 0.75, 1];
    const yTicks = [low, (low + high) / 2, high];
    const yOf = (v: number) => y + (1 - (v - low) / (high - low || 1)) * height;
    return svg`<g part="axis">
      <rect class="frame" x=${x} y=${y} width=${width} height=${height}></rect>
      ${yTicks.map(
        (v) => svg`<line class="grid" x1=${x} x2=${x + width} y1=${yOf(v)} y2=${yOf(v)}></line>
        <text x=${x - 4} y=${yOf(v) + 3} text-anchor="end">${formatNumber(v)}</text>`,
      )}
      ${xTicks.map((f) => svg`<text x=${x + f * width} y=${y + height + 13} text-anchor="middle">${f}</text>`)}
      <text class="title" x=${x + width / 2} y=${HEIGHT - 8} text-anchor="middle">${xTitle}</text>
      <text class="title" transform="translate(11 ${y + height / 2}) rotate(-90)" text-anchor="middle">${yTitle}</text>
    </g>`;
  }

  private statusLine() {
    const status = this.controller.status;
    const text = this.curves
      ? ''
      : status === 'loading'
        ? 'Loading the model…'
        : this.computing
          ? `Computing the ${this.mode === 'both' ? 'deletion and insertion' : this.mode} curve…`
          : this.model === undefined
            ? 'Set curves to draw, or a model, an input and its attribution.'
            : status === 'ready' && (!this.input || !this.attribution)
              ? 'Set an input and its attribution.'
              : '';
    return statusView(this.failure, () => (this.settled = this.refresh(!this.controller.model)), text, this.computing);
  }
}

customElements.define('gradlens-curve', GradlensCurve);

declare global {
  interface HTMLElementTagNameMap {
    'gradlens-curve': GradlensCurve;
  }
}
