import type { Explanation, GradlensError, LensModel } from '../src/index.ts';
import type { ErrorCode } from '../src/index.ts';
import type { CurveSeries } from './curve.ts';
import type { ControllerHost } from './explain-controller.ts';

export interface GradlensLoadDetail {
  model: LensModel;
  inputShape: readonly number[];
}
export interface GradlensProgressDetail {
  done: number;
  total: number;
  /** done / total, in [0, 1]. */
  fraction: number;
}
export interface GradlensResultDetail {
  explanation: Explanation;
  /** Milliseconds from the run's start to the attribution read back. */
  ms: number;
}
export interface GradlensErrorDetail {
  code: ErrorCode;
  message: string;
  error: GradlensError;
}

export interface GradlensCurveDetail {
  /** The curves drawn, one per mode, each with its AUC. */
  series: CurveSeries[];
  /** Milliseconds to compute them. */
  ms: number;
}

export type GradlensLoadEvent = CustomEvent<GradlensLoadDetail>;
export type GradlensProgressEvent = CustomEvent<GradlensProgressDetail>;
export type GradlensResultEvent = CustomEvent<GradlensResultDetail>;
export type GradlensErrorEvent = CustomEvent<GradlensErrorDetail>;
export type GradlensCurveEvent = CustomEvent<GradlensCurveDetail>;

declare global {
  interface HTMLElementEventMap {
    'gradlens-load': GradlensLoadEvent;
    'gradlens-progress': GradlensProgressEvent;
    'gradlens-result': GradlensResultEvent;
    'gradlens-error': GradlensErrorEvent;
    'gradlens-curve': GradlensCurveEvent;
  }
}

type EventDetails = {
  'gradlens-load': GradlensLoadDetail;
  'gradlens-progress': GradlensProgressDetail;
  'gradlens-result': GradlensResultDetail;
  'gradlens-error': GradlensErrorDetail;
  'gradlens-curve': GradlensCurveDetail;
};

/** Dispatches one of the gradlens events: bubbling and composed, so a page hears it through shadow roots. */
export function fire<K extends keyof EventDetails>(target: EventTarget, type: K, detail: EventDetails[K]): void {
  target.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
}

export function errorDetail(error: GradlensError): GradlensErrorDetail {
  return { code: error.code, message: error.message, error };
}

/** Controller callbacks for a widget: every state change re-renders it; load, progress and result become its events. */
export function widgetEvents(host: HTMLElement & { requestUpdate(): void }, onError: (error: GradlensError) => void): ControllerHost {
  return {
    onStatus: () => host.requestUpdate(),
    onLoad: (model) => fire(host, 'gradlens-load', { model, inputShape: model.inputShape }),
    onProgress: ({ done, total }) => {
      host.requestUpdate();
      fire(host, 'gradlens-progress', { done, total, fraction: total > 0 ? done / total : 0 });
    },
    onResult: (explanation) => fire(host, 'gradlens-result', { explanation, ms: explanation.timing.ms }),
    onError,
  };
}
