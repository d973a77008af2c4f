import { css, html, LitElement, nothing, type PropertyValues } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { GradlensError, MethodId, ModelSource } from '../src/index.ts';
import type { PreprocessOptions } from '../src/io/preprocess.ts';
import type { ColormapName, Sign } from '../src/render/index.ts';
import { errorDetail, fire } from './events.ts';
import { asGradlensError, ExplainController, isWebGpuMissing } from './explain-controller.ts';
import './gradlens-heatmap.ts';
import { prepareImage, prepareTensor, type ImageInput, type PreparedInput } from './image-input.ts';
import { runOptions } from './method-options.ts';
import { themeStyles } from './styles.ts';
import { controlStyles, errorView, progressView } from './views.ts';

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
 * @cssproperty --gradlens-heatmap-size - Each map's displayed width (default 160px here).
 */
@customElement('gradlens-compare')
export class GradlensCompare extends LitElement {
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

  /** The ONNX model: a URL (attribute) or bytes, an ArrayBuffer or a graph (property). */
  @property() model: ModelSource | undefined;
  /** The image's URL. */
  @property() src: string | undefined;
  /** The image as an ImageBitmap, <img>, canvas or OffscreenCanvas (property; wins over `src`). */
  @property({ attribute: false }) image: ImageInput | undefined;
  /** The input as a tensor of the model's input shape (property; wins over images). */
  @property({ attribute: false }) tensor: Float32Array | undefined;
  /** How the image becomes the input beyond size and channels (scale, mean, std, order); default values / 255. */
  @property({ attribute: false }) preprocess: Partial<PreprocessOptions> = {};
  /** Method ids, space-separated (attribute) or an array (property). */
  @property({ converter: (v) => v?.split(/[\s,]+/).filter(Boolean) }) methods: MethodId[] = ['saliency', 'integrated-gradients', 'smoothgrad'];
  /** Path steps of the path methods. */
  @property({ type: Number }) steps: number | undefined;
  /** Noise samples of the SmoothGrad family and expected gradients. */
  @property({ type: Number }) samples: number | undefined;
  /** Noise σ as a fraction of the input's range. */
  @property({ type: Number }) noise: number | undefined;
  /** The class every method explains; default the top prediction. */
  @property({ type: Number }) target: number | undefined;
  /** Seeds every random draw, so runs repeat. */
  @property({ type: Number }) seed = 0;
  /** 'viridis' (default, colour-blind safe), 'turbo', 'rdbu-r' or 'gray'. */
  @property({ reflect: true }) colormap: ColormapName = 'viridis';
  /** 'abs' (default), 'positive', 'negative' or 'signed'. */
  @property({ reflect: true }) sign: Sign = 'abs';
  /** The maps' opacity over the image, 0 to 1. */
  @property({ type: Number }) opacity = 0.6;

  private loader = new ExplainController({ onLoad: (model) => fire(this, 'gradlens-load', { model, inputShape: model.inputShape }) });
  @state() private controllers: ExplainController[] = [];
  @state() private prepared: PreparedInput | undefined;
  @state() private failure: GradlensError | undefined;
  @state() private current: ExplainController | undefined;
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
  }

  private async refresh(reload: boolean): Promise<void> {
    this.cancel();
    const generation = this.generation;
    const stale = () => generation !== this.generation;
    await Promise.resolve();
    this.failure = undefined;
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
        await controller.run(prepared.tensor, runOptions({ method, steps: this.steps, samples: this.samples, noise: this.noise, target: this.target, seed: this.seed }, prepared.tensor, model.inputShape));
        if (controller.error) throw controller.error;
      }
      if (!stale()) this.current = undefined;
    } catch (error) {
      if (stale()) return;
      this.failure = asGradlensError(error);
      this.current = undefined;
      fire(this, 'gradlens-error', errorDetail(this.failure));
    }
  }

  protected override render() {
    return html`
      <div part="grid">
        ${this.controllers.map((controller, i) => {
          const result = controller.result;
          return html`<figure>
            <figcaption>${this.methods[i]}</figcaption>
            ${result
              ? html`<gradlens-heatmap
                  part="heatmap"
                  .attribution=${result.attribution}
                  .shape=${result.shape}
                  .image=${this.prepared?.image}
                  colormap=${this.colormap}
                  sign=${this.sign}
                  .opacity=${this.opacity}
                  label="${this.methods[i]} for class ${result.target[0]}"
                ></gradlens-heatmap>`
              : html`<p class="muted">${controller === this.current ? 'running…' : 'waiting'}</p>`}
          </figure>`;
        })}
      </div>
      ${this.current?.status === 'running' ? progressView(this.current.progress, () => this.cancel()) : nothing}
      ${this.failure
        ? errorView(this.failure, isWebGpuMissing(this.failure), () => (this.settled = this.refresh(true)))
        : html`<p part="status" class="muted" role="status">${this.loader.status === 'loading' ? 'Loading the model…' : ''}</p>`}
    `;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'gradlens-compare': GradlensCompare;
  }
}
