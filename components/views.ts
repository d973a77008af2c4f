import { css, html, nothing } from 'lit';
import type { GradlensError, LensModel, MethodId, ModelSource } from '../src/index.ts';
import { asGradlensError, isWebGpuMissing, type ExplainController, type Prediction, type RunProgress } from './explain-controller.ts';

// Pieces of template the widgets share: predictions, progress, error.

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

/** The method picker: a labelled select over `methods`, the current one selected. */
export function methodSelect(methods: readonly MethodId[], current: MethodId, choose: (method: MethodId) => void) {
  return html`<label
    >Method
    <select @change=${(e: Event) => choose((e.target as HTMLSelectElement).value as MethodId)}>
      ${methods.map((id) => html`<option ?selected=${id === current}>${id}</option>`)}
    </select>
  </label>`;
}

/**
 * The state line of a widget that loads a model and explains one input: the error with a retry, or what to do next
 * (`missing`: what the widget still needs, e.g. "Set a text or ids to explain."), or the run's time.
 */
export function statusLine(
  state: { failure: GradlensError | undefined; controller: ExplainController; presentational: boolean; hasModel: boolean; missing?: string },
  retry: () => void,
) {
  const { failure, controller, presentational, hasModel, missing } = state;
  if (failure) return errorView(failure, isWebGpuMissing(failure), retry);
  const status = controller.status;
  const text = presentational
    ? ''
    : !hasModel
      ? 'Set a model to explain.'
      : status === 'loading'
        ? 'Loading the model…'
        : status === 'ready' && missing
          ? missing
          : status === 'done' && controller.result
            ? `Done in ${Math.round(controller.result.timing.ms)} ms.`
            : '';
  return html`<p part="status" class="muted" role="status" aria-live="polite">${text}</p>`;
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
