import { css, html, type PropertyDeclarations, nothing, type PropertyValues } from 'lit';
import type { GradlensError, MethodId } from '../src/index.ts';
import type { ColormapName, Sign } from '../src/render/index.ts';
import { errorDetail, fire } from './events.ts';
import { asGradlensError, ExplainController, isWebGpuMissing } from './explain-controller.ts';
import './gradlens-heatmap.ts';
import { prepareImage, prepareTensor, type PreparedInput } from './image-input.ts';
import { InputElement } from './input-element.ts';
import { runOptions } from './method-options.ts';
import { themeStyles, type Theme } from './styles.ts';
import { classNames, commaList, controlStyles, errorView, heatmapView, progressView } from './views.ts';
import type { GradlensHeatmap } from './gradlens-heatmap.ts';

/**
 * Several methods on one input, side by side, one after another on the same model (one device, shared plans).
 *
 * ```html
 * <gradlens-compare model="models/digits.onnx" src="samples/digits/3_0000.png" methods="saliency integrated-gradients smoothgrad"></gradlens-compare>
 * ```
 *
 * @event {GradlensLoadEvent} gradlens-load - The model is loaded.
 * @event {GradlensProgressEvent} gradlens-progress - A chunk of the current method's run is done.
 * @event {GradlensResultEvent} gradlens-result - One method's attribution is ready (one event per method, in order).
 * @event {GradlensErrorEvent} gradlens-error - Loading, reading the input or a run failed.
 * @csspart grid - The row of heat maps.
 * @csspart heatmap - Each `<gradlens-heatmap>`.
 * @csspart progress - Progress and cancel.
 * @csspart status - The state line.
 * @csspart scale - The line that says the maps share one colour scale.
 * @cssproperty --gradlens-heatmap-size - Each map's displayed width (default 160px here).
 */
export class GradlensCompare extends InputElement {
  static override styles = [
    themeStyles,
    controlStyles,
    css`
      :host {
        --gradlens-heatmap-size: 160px;
      }
      [part='grid'] {
        display: flex;
        flex-wrap: wrap;
        gap: 12px;
      }
      figcaption {
        font-weight: 600;
      }
      figure {
        margin: 0;
      }
    `,
  ];

  static override properties: PropertyDeclarations = {
    methods: { converter: (v) => v?.split(/[\s,]+/).filter(Boolean) },
    steps: { type: Number },
    samples: { type: Number },
    noise: { type: Number },
    target: { type: Number },
    seed: { type: Number },
    colormap: { reflect: true },
    sign: { reflect: true },
    opacity: { type: Number },
    scale: { reflect: true },
    labels: { converter: commaList },
    theme: { reflect: true },
    sharedRange: { state: true, attribute: false },
    controllers: { state: true, attribute: false }, // attribute: false for the manifest analyzer, which reads state as an attribute
    prepared: { state: true, attribute: false },
    failure: { state: true, attribute: false },
    current: { state: true, attribute: false },
  };

  /** Method ids, space-separated (attribute) or an array (property). */
  declare methods: MethodId[];
  /** Path steps of the path methods. */
  declare steps: number | undefined;
  /** Noise samples of the SmoothGrad family and expected gradients. */
  declare samples: number | undefined;
  /** Noise σ as a fraction of the input's range. */
  declare noise: number | undefined;
  /** The class every method explains; default the top prediction. */
  declare target: number | undefined;
  /** Seeds every random draw, so runs repeat. */
  declare seed: number;
  /** 'viridis' (default, colour-blind safe), 'turbo', 'rdbu-r' or 'gray'. */
  declare colormap: ColormapName;
  /** 'abs' (default), 'positive', 'negative' or 'signed'. */
  declare sign: Sign;
  /** The maps' opacity over the image, 0 to 1. */
  declare opacity: number;
  /** 'shared' (default): every map on one colour scale, so their strengths compare; 'per-tile': each on its own. */
  declare scale: 'shared' | 'per-tile';
  /** Class names, comma-separated (attribute) or an array (property). */
  declare labels: string[];
  /** 'light' or 'dark' forces that palette here and in the heat maps; default the system's. */
  declare theme: Theme;
  declare private sharedRange: readonly [number, number] | undefined;

  private loader = new ExplainController({
    onStatus: () => this.requestUpdate(),
    onLoad: (model) => fire(this, 'gradlens-load', { model, inputShape: model.inputShape }),
  });
  declare private controllers: ExplainController[];
  declare private prepared: PreparedInput | undefined;
  declare private failure: GradlensError | undefined;
  declare private current: ExplainController | undefined;

  constructor() {
    super();
    this.methods = ['saliency', 'integrated-gradients', 'smoothgrad'];
    this.seed = 0;
    this.colormap = 'viridis';
    this.sign = 'abs';
    this.opacity = 0.6;
    this.scale = 'shared';
    this.labels = [];
    this.controllers = [];
  }

  private generation = 0;
  /** Settles when the work started by the latest change is over (done, failed or superseded). */
  settled: Promise<void> = Promise.resolve();

  /** Stops the run in flight and the methods after it. */
  cancel(): void {
    this.generation++;
    this.current?.cancel();
    this.current = undefined;
  }

  protected override updated(changed: PropertyValues<this>): void {
    const keys = ['model', 'src', 'image', 'tensor', 'preprocess', 'methods', 'steps', 'samples', 'noise', 'target', 'seed'];
    if (keys.some((k) => changed.has(k as keyof GradlensCompare))) this.settled = this.refresh(changed.has('model'));
    else if (changed.has('scale') || changed.has('sign')) {
      this.sharedRange = undefined;
      this.settled = this.settled.then(() => this.shareScale());
    }
  }

  /** One scale for all maps: from the lowest to the highest end of the maps' own (percentile) scales. */
  private async shareScale(current = () => true): Promise<void> {
    if (this.scale !== 'shared') return;
    await this.updateComplete;
    const maps = [...this.renderRoot.querySelectorAll<GradlensHeatmap>('gradlens-heatmap')];
    for (const map of maps) await map.updateComplete.then(() => map.rendered);
    const ranges = maps.map((map) => map.drawnRange).filter((range) => range !== undefined);
    if (ranges.length === 0 || this.scale !== 'shared' || !current()) return;
    this.sharedRange = [Math.min(...ranges.map((r) => r[0])), Math.max(...ranges.map((r) => r[1]))];
  }

  private async refresh(reload: boolean): Promise<void> {
    this.cancel();
    const generation = this.generation;
    const stale = () => generation !== this.generation;
    await Promise.resolve();
    this.failure = undefined;
    this.sharedRange = undefined;
    try {
      if (reload || !this.loader.model) {
        if (this.model === undefined || this.model === '') return;
        if (!(await this.loader.load(this.model))) throw this.loader.error ?? new Error('the model did not load');
      }
      const model = this.loader.model!;
      const source = this.image ?? this.src;
      if (stale() || (!this.tensor && !source)) return;
      const prepared = this.tensor ? prepareTensor(this.tensor, model.inputShape) : await prepareImage(source!, model.inputShape, this.preprocess);
      if (stale()) return;
      this.prepared = prepared;
      this.controllers = this.methods.map(
        () =>
          new ExplainController({
            onStatus: () => this.requestUpdate(),
            onProgress: ({ done, total }) => fire(this, 'gradlens-progress', { done, total, fraction: total > 0 ? done / total : 0 }),
            onResult: (explanation) => fire(this, 'gradlens-result', { explanation, ms: explanation.timing.ms }),
          }),
      );
      for (const [i, controller] of this.controllers.entries()) {
        if (stale()) return;
        controller.use(model);
        this.current = controller;
        const method = this.methods[i]!;
        await controller.run(
          prepared.tensor,
          runOptions(
            { method, steps: this.steps, samples: this.samples, noise: this.noise, target: this.target, seed: this.seed },
            prepared.tensor,
            model.inputShape,
          ),
        );
        if (controller.error) throw controller.error;
      }
      if (stale()) return;
      this.current = undefined;
      await this.shareScale(() => !stale());
    } catch (error) {
      if (stale()) return;
      this.failure = asGradlensError(error);
      this.current = undefined;
      fire(this, 'gradlens-error', errorDetail(this.failure));
    }
  }

  private statusText(): string {
    if (this.loader.status === 'loading') return 'Loading the model…';
    if (this.loader.model && this.controllers.length === 0) return 'Set an input to compare the methods on.';
    return '';
  }

  private classLabel(index: number): string {
    return classNames(this.labels, this.loader.model)[index] ?? `class ${index}`;
  }

  protected override render() {
    return html`
      <div part="grid">
        ${this.controllers.map((controller, i) => {
          const result = controller.result;
          return html`<figure>
            <figcaption>
              ${this.methods[i]}${result ? html` <span class="muted">for ${this.classLabel(result.target[0]!)}</span>` : nothing}
            </figcaption>
            ${
              result
                ? heatmapView(result, this, this.prepared?.image, `${this.methods[i]} for ${this.classLabel(result.target[0]!)}`, {
                    range: this.scale === 'shared' ? this.sharedRange : undefined,
                  })
                : html`<p class="muted">${controller === this.current ? 'running…' : 'waiting'}</p>`
            }
          </figure>`;
        })}
      </div>
      ${
        this.scale === 'shared' && this.sharedRange
          ? html`<p part="scale" class="muted">One colour scale for every map, so their strengths compare (scale="per-tile": one each).</p>`
          : nothing
      }
      ${this.current?.status === 'running' ? progressView(this.current.progress, () => this.cancel()) : nothing}
      ${
        this.failure
          ? errorView(this.failure, isWebGpuMissing(this.failure), () => (this.settled = this.refresh(true)))
          : html`<p part="status" class="muted" role="status">${this.statusText()}</p>`
      }
    `;
  }
}

customElements.define('gradlens-compare', GradlensCompare);

declare global {
  interface HTMLElementTagNameMap {
    'gradlens-compare': GradlensCompare;
  }
}
