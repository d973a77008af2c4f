import { css, html, LitElement, type PropertyDeclarations, nothing, type PropertyValues } from 'lit';
import { legendStops, type GradlensError } from '../src/index.ts';
import type { RgbaImage } from '../src/io/preprocess.ts';
import type { ColormapName, Heatmap, Sign } from '../src/render/index.ts';
import { errorDetail, fire } from './events.ts';
import { asGradlensError, heatmapOf } from './explain-controller.ts';
import { figureStyles, themeStyles, type Theme } from './styles.ts';
import { formatNumber, regionSummary } from './summary.ts';

/**
 * An attribution drawn over its image: presentational, it computes nothing but the picture (on the shared GPU
 * device). Resizing the element scales the canvas; it does not render again.
 *
 * @event {GradlensErrorEvent} gradlens-error - The attribution could not be drawn (bad shape, NaN values, no WebGPU).
 * @csspart canvas - The overlay (role="img", its label summarises where the attribution is).
 * @csspart legend - The colour scale with its title, units and values (absent while there is nothing to show).
 * @csspart empty - The placeholder shown while there is no attribution.
 * @cssproperty --gradlens-heatmap-size - The overlay's displayed width (default 224px).
 * @cssproperty --gradlens-fg - Text colour.
 * @cssproperty --gradlens-bg - Background colour.
 */
export class GradlensHeatmap extends LitElement {
  static override styles = [
    themeStyles,
    figureStyles,
    css`
      figure {
        width: var(--gradlens-heatmap-size, 224px);
      }
      canvas {
        width: 100%;
        height: auto;
        image-rendering: pixelated;
        border-radius: var(--_radius);
        background: var(--_border);
      }
      .bar {
        height: 10px;
        border-radius: 3px;
      }
      .legend-title {
        font-size: 0.85em;
      }
      .units {
        color: var(--_muted);
      }
      .empty {
        display: grid;
        place-items: center;
        aspect-ratio: 1;
        border: 1px dashed var(--_border);
        border-radius: var(--_radius);
        margin: 0;
      }
      .ticks {
        display: flex;
        justify-content: space-between;
        font-size: 0.8em;
        color: var(--_muted);
      }
    `,
  ];

  static override properties: PropertyDeclarations = {
    attribution: { attribute: false },
    shape: { attribute: false },
    image: { attribute: false },
    colormap: { reflect: true },
    sign: { reflect: true },
    opacity: { type: Number },
    percentile: { type: Number },
    label: {},
    range: { attribute: false },
    legendTitle: { attribute: 'legend-title' },
    units: {},
    theme: { reflect: true },
    heatmap: { state: true, attribute: false }, // attribute: false for the manifest analyzer, which reads state as an attribute
    error: { state: true, attribute: false },
  };

  /** The attribution, row-major in `shape` ([C, H, W], [H, W]; a leading batch of 1 is allowed). */
  declare attribution: Float32Array | undefined;
  /** The attribution's shape. */
  declare shape: readonly number[];
  /** The image under the map, RGBA8; its size is the overlay's size. */
  declare image: RgbaImage | undefined;
  /** 'viridis' (default, colour-blind safe), 'turbo', 'rdbu-r' (default when signed), 'gray'. */
  declare colormap: ColormapName | undefined;
  /** 'abs' (default), 'positive', 'negative' or 'signed'. */
  declare sign: Sign;
  /** The map's opacity over the image, 0 to 1. */
  declare opacity: number;
  /** The percentile of |map| the colormap's end stands for. */
  declare percentile: number;
  /** What the map is of, read before the summary: e.g. "Integrated gradients for 7". */
  declare label: string;
  /** Fixed values for the colormap's two ends (raw attribution units), e.g. one scale shared by several maps. */
  declare range: readonly [number, number] | undefined;
  /** The legend's title; default from the sign: '|attribution|', 'attribution', 'positive attribution', ... */
  declare legendTitle: string | undefined;
  /** What the values are in, shown after the legend's title: e.g. 'logit' for attributions of a logit. */
  declare units: string | undefined;
  /** 'light' or 'dark' forces that palette; default the system's. */
  declare theme: Theme;

  declare private heatmap: Heatmap | undefined;
  declare private error: GradlensError | undefined;

  constructor() {
    super();
    this.shape = [];
    this.sign = 'abs';
    this.opacity = 0.5;
    this.percentile = 99;
    this.label = 'Attribution';
  }

  private renders = 0;

  /** A short description of where the attribution lies, as the overlay's accessible name gives it. */
  get summary(): string {
    return this.attribution ? `${this.label}: ${regionSummary(this.attribution, this.shape)}` : `${this.label}: nothing to show yet`;
  }

  /** The values the colormap's two ends stand for in the picture drawn (the percentile's, or `range`). */
  get drawnRange(): readonly [number, number] | undefined {
    return this.heatmap?.range;
  }

  /** Resolves when the picture for the current inputs is drawn (or failed). */
  rendered: Promise<void> = Promise.resolve();

  protected override willUpdate(changed: PropertyValues<this>): void {
    const inputs = ['attribution', 'shape', 'image', 'colormap', 'sign', 'opacity', 'percentile', 'range'] as const;
    if (inputs.some((name) => changed.has(name))) this.rendered = this.draw();
  }

  protected override updated(changed: PropertyValues<this>): void {
    if (changed.has('heatmap' as keyof GradlensHeatmap) && this.heatmap) this.paint(this.heatmap);
  }

  private async draw(): Promise<void> {
    const attribution = this.attribution;
    const render = ++this.renders;
    await Promise.resolve(); // out of willUpdate: the state set below schedules the next update
    if (!attribution) {
      this.heatmap = undefined;
      return;
    }
    try {
      const heatmap = await heatmapOf(attribution, this.shape, {
        sign: this.sign,
        opacity: this.opacity,
        percentile: this.percentile,
        ...(this.colormap ? { colormap: this.colormap } : {}),
        ...(this.range ? { range: this.range } : {}),
        ...(this.image ? { overlay: this.image } : {}),
      });
      if (render !== this.renders) return;
      this.error = undefined;
      this.heatmap = heatmap;
      await this.updateComplete;
    } catch (error) {
      if (render !== this.renders) return;
      this.error = asGradlensError(error);
      fire(this, 'gradlens-error', errorDetail(this.error));
    }
  }

  private paint(heatmap: Heatmap): void {
    const canvas = this.renderRoot.querySelector('canvas');
    if (!canvas) return;
    [canvas.width, canvas.height] = [heatmap.width, heatmap.height];
    canvas.getContext('2d')?.putImageData(new ImageData(new Uint8ClampedArray(heatmap.rgba), heatmap.width, heatmap.height), 0, 0);
  }

  protected override render() {
    const heatmap = this.heatmap;
    return html`<figure>
      <canvas part="canvas" role="img" aria-label=${this.summary} width="1" height="1" ?hidden=${!heatmap}></canvas>
      ${heatmap || this.error ? nothing : html`<p part="empty" class="empty muted">${this.attribution ? 'drawing…' : 'no attribution yet'}</p>`}
      ${this.error ? html`<p class="error" role="alert">${this.error.message}</p>` : nothing} ${heatmap ? this.legend(heatmap.range) : nothing}
    </figure>`;
  }

  /** The colour scale for the picture drawn: title and units, the gradient, its two ends and middle. */
  private legend(range: readonly [number, number]) {
    const colormap = this.colormap ?? (this.sign === 'signed' ? 'rdbu-r' : 'viridis');
    const stops = legendStops(colormap, 9, range);
    const gradient = `linear-gradient(to right, ${stops.map((s) => `${s.color} ${(100 * s.offset).toFixed(1)}%`).join(', ')})`;
    const ticks = [stops[0]!, stops[4]!, stops[8]!];
    const title = this.legendTitle ?? LEGEND_TITLES[this.sign];
    const described = `colour scale of ${title}${this.units ? ` in ${this.units}` : ''} from ${formatNumber(range[0])} to ${formatNumber(range[1])}`;
    return html`<div part="legend" aria-label=${described}>
      <div class="legend-title">${title}${this.units ? html` <span class="units">(${this.units})</span>` : nothing}</div>
      <div class="bar" style="background: ${gradient}"></div>
      <div class="ticks">${ticks.map((t) => html`<span>${formatNumber(t.value)}</span>`)}</div>
    </div>`;
  }
}

const LEGEND_TITLES: Record<Sign, string> = {
  abs: '|attribution|',
  signed: 'attribution',
  positive: 'positive attribution',
  negative: 'negative attribution',
};

customElements.define('gradlens-heatmap', GradlensHeatmap);

declare global {
  interface HTMLElementTagNameMap {
    'gradlens-heatmap': GradlensHeatmap;
  }
}
