import { css, html, nothing } from 'lit';
import type { GradlensError } from '../src/index.ts';
import type { Prediction, RunProgress } from './explain-controller.ts';

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
`;

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
