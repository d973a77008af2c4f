import { css, html, nothing, type TemplateResult } from 'lit';
import type { Explanation, GradlensError, LensModel, ModelSource } from '../src/index.ts';
import type { RgbaImage } from '../src/io/preprocess.ts';
import type { ColormapName, Sign } from '../src/render/index.ts';
import {
  asGradlensError,
  isWebGpuMissing,
  type ExplainController,
  type ExplainStatus,
  type Prediction,
  type RunProgress,
} from './explain-controller.ts';
import type { Theme } from './styles.ts';
import type { MethodOptionValue, OptionInput } from './method-options.ts';
import { parseOption } from './method-options.ts';
import { scoreUnits } from './summary.ts';

// Pieces of template the widgets share: predictions, progress, error, pickers, an explanation's heatmap.

/** The converter of a `labels`-style property: comma-separated in the attribute, an array as a property. */
/** Class names: the widget's `labels` attribute where given, else the model's own (from its file's metadata). */
export function classNames(attribute: readonly string[], model: { labels: readonly string[] } | undefined): readonly string[] {
  return attribute.length ? attribute : (model?.labels ?? []);
}

export const commaList = (value: string | null) => value?.split(',').map((s) => s.trim());

export const controlStyles = css`
  form {
    display: flex;
    flex-wrap: wrap;
    gap: 6px 12px;
    margin-bottom: 8px;
    align-items: center;
  }
  label {
    display: inline-flex;
    gap: 4px;
    align-items: center;
  }
  input[type='number'] {
    width: 5em;
  }
  ol {
    list-style: none;
    margin: 0;
    padding: 0;
    display: flex;
    flex-direction: column;
    gap: 4px;
  }
  ol button {
    width: 100%;
    text-align: left;
    display: flex;
    justify-content: space-between;
    gap: 8px;
  }
  ol button[aria-pressed='true'] {
    border-color: var(--_accent);
    box-shadow: inset 3px 0 0 var(--_accent);
  }
  progress {
    accent-color: var(--_accent);
  }
  .top {
    display: flex;
    gap: 16px;
    flex-wrap: wrap;
    align-items: flex-start;
  }
`;

/** The predictions (choose one to explain it) beside the progress of the run in flight. */
export function predictionsAndProgress(
  predictions: readonly Prediction[],
  target: number | undefined,
  choose: (index: number) => void,
  controller: ExplainController,
) {
  return html`<div class="top">
    ${predictionList(predictions, target, choose)}
    ${controller.status === 'running' ? progressView(controller.progress, () => controller.cancel()) : nothing}
  </div>`;
}

/** The top-k predictions as buttons; the pressed one is the target explained. */
export function predictionList(predictions: readonly Prediction[], target: number | undefined, choose: (index: number) => void) {
  if (predictions.length === 0) return nothing;
  return html`<ol part="predictions" aria-label="Predictions: choose one to explain it">
    ${predictions.map(
      (p) =>
        html`<li>
          <button type="button" aria-pressed=${p.index === target ? 'true' : 'false'} data-class=${p.index} @click=${() => choose(p.index)}>
            <span>${p.label}</span><span>${(100 * p.probability).toFixed(1)} %</span>
          </button>
        </li>`,
    )}
  </ol>`;
}

export function progressView(progress: RunProgress | undefined, cancel: () => void) {
  const { done = 0, total = 1 } = progress ?? {};
  return html`<div part="progress">
    <progress max=${total} .value=${done} aria-label="Explaining: ${done} of ${total}"></progress>
    <button type="button" class="cancel" @click=${cancel}>Cancel</button>
  </div>`;
}

/** An error in words, what to do about it, and a retry; WebGPU missing gets its own advice. */
export function errorView(error: GradlensError, noWebGpu: boolean, retry: () => void) {
  return html`<div part="status" class="error" role="alert">
    ${
      noWebGpu
        ? html`<p><strong>WebGPU is unavailable here.</strong> ${error.message}</p>
            <p>Open this page in a current Chrome or Edge (Safari 26+), over https or localhost; or run gradlens in Node.</p>`
        : html`<p><strong>${error.code}</strong>: ${error.message}</p>`
    }
    <button type="button" class="retry" @click=${retry}>Try again</button>
  </div>`;
}

/** A labelled picker of `choices`, `current` selected; `change` receives the select's change event. */
export function choiceView(label: string, choices: readonly string[], current: string | undefined, change: (event: Event) => void) {
  return html`<label
    >${label}
    <select @change=${change}>
      ${choices.map((choice) => html`<option value=${choice} ?selected=${choice === current}>${choice}</option>`)}
    </select></label
  >`;
}

/**
 * A method option's input, generated from its spec (part "option", data-option its key): a picker, a number field
 * bounded by the spec, a checkbox, or comma-separated integers; the spec's default shows where no value is set, and
 * its doc is the title. `change` receives the value parsed back to the option's type (undefined: the default).
 */
export function optionInputView(
  { key, spec, input }: OptionInput,
  value: MethodOptionValue | undefined,
  change: (v: MethodOptionValue | undefined) => void,
) {
  const read = (event: Event) => {
    const element = event.target as HTMLInputElement | HTMLSelectElement;
    change(parseOption(spec, element instanceof HTMLInputElement && element.type === 'checkbox' ? element.checked : element.value));
  };
  const shown = value ?? spec.default;
  const field =
    input === 'select'
      ? html`<select @change=${read}>
          ${spec.default === undefined ? html`<option value="" ?selected=${value === undefined}>default</option>` : nothing}
          ${spec.choices!.map((c) => html`<option value=${c} ?selected=${c === shown}>${c}</option>`)}
        </select>`
      : input === 'checkbox'
        ? html`<input type="checkbox" .checked=${Boolean(shown)} @change=${read} />`
        : html`<input
            type=${input === 'index' ? 'text' : 'number'}
            min=${spec.min ?? nothing}
            max=${spec.max ?? nothing}
            step=${spec.kind === 'integer' ? '1' : 'any'}
            placeholder=${spec.default === undefined ? (input === 'index' ? 'e.g. 0, 3' : '') : String(spec.default)}
            .value=${value === undefined ? '' : String(value)}
            @change=${read}
          />`;
  return html`<label part="option" data-option=${key} title=${spec.doc}>${key} ${field}</label>`;
}

/** How a widget draws its maps: the heatmap attributes it passes through. */
export interface HeatmapLook {
  colormap: ColormapName;
  sign: Sign;
  opacity: number;
  theme: Theme | undefined;
}

/** An explanation's `<gradlens-heatmap>` over its input (part "heatmap"), as the explainer and the comparison show it. */
export function heatmapView(
  result: Explanation,
  look: HeatmapLook,
  image: RgbaImage | undefined,
  label: string,
  extra: { range?: readonly [number, number] | undefined; exportparts?: string } = {},
) {
  return html`<gradlens-heatmap
    part="heatmap"
    exportparts=${extra.exportparts ?? nothing}
    .attribution=${result.attribution}
    .shape=${result.shape}
    .image=${image}
    colormap=${look.colormap}
    sign=${look.sign}
    .opacity=${look.opacity}
    .range=${extra.range}
    units=${scoreUnits(result)}
    theme=${look.theme ?? nothing}
    label=${label}
  ></gradlens-heatmap>`;
}

/** A widget's status line: its failure with a way to retry, else one line (a progress bar before it while `busy`). */
export function statusView(failure: GradlensError | undefined, retry: () => void, text: string, busy = false) {
  if (failure) return errorView(failure, isWebGpuMissing(failure), retry);
  const bar: TemplateResult | typeof nothing = busy ? html`<progress aria-label="Computing"></progress> ` : nothing;
  return html`<p part="status" class="muted" role="status" aria-live="polite">${bar}${text}</p>`;
}

/**
 * What an explaining widget says of its run: to set a model, that it loads, `need` (what input it waits for, if
 * any), then the run's time once done.
 */
export function runStatus(run: { status: ExplainStatus; result: Explanation | undefined }, hasModel: boolean, need?: string): string {
  if (!hasModel) return 'Set a model to explain.';
  if (run.status === 'loading') return 'Loading the model…';
  if (need !== undefined) return need;
  return run.status === 'done' && run.result ? `Done in ${Math.round(run.result.timing.ms)} ms.` : '';
}

/**
 * The latest-change-wins refresh of a widget: a new call supersedes the one before (its `stale()` turns true), the
 * model is (re)loaded where asked, and errors of the current call go to `fail`.
 */
export class Refresh {
  private generation = 0;
  private loading: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly controller: ExplainController,
    private readonly fail: (error: GradlensError) => void,
  ) {}

  async run(reload: boolean, source: ModelSource | undefined, work: (model: LensModel, stale: () => boolean) => Promise<void>): Promise<void> {
    const generation = ++this.generation;
    const stale = () => generation !== this.generation;
    this.controller.cancel();
    await Promise.resolve();
    try {
      if (reload && source !== undefined && source !== '') this.loading = this.controller.load(source);
      await this.loading;
      const model = this.controller.model;
      if (stale() || !model) return;
      await work(model, stale);
    } catch (error) {
      if (!stale() && error !== this.controller.error) this.fail(asGradlensError(error));
    }
  }
}
