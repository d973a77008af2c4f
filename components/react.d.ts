// JSX types for the widgets in React 19 (no runtime: React 19 sets known properties and listens to `on<event>` props
// on custom elements itself). Include this file (`/// <reference path>` or tsconfig "include") in a TSX project.
import type { DetailedHTMLProps, HTMLAttributes } from 'react';
import type { GradlensCompare } from './gradlens-compare.ts';
import type { GradlensCurve } from './gradlens-curve.ts';
import type { GradlensExplainer } from './gradlens-explainer.ts';
import type { GradlensFeatures } from './gradlens-features.ts';
import type { GradlensText } from './gradlens-text.ts';
import type { GradlensHeatmap } from './gradlens-heatmap.ts';
import type { GradlensCurveEvent, GradlensErrorEvent, GradlensLoadEvent, GradlensProgressEvent, GradlensResultEvent } from './events.ts';

/** React 19 turns `ongradlens-result` into addEventListener('gradlens-result', …) on a custom element. */
interface GradlensEvents {
  'ongradlens-load'?: (event: GradlensLoadEvent) => void;
  'ongradlens-progress'?: (event: GradlensProgressEvent) => void;
  'ongradlens-result'?: (event: GradlensResultEvent) => void;
  'ongradlens-error'?: (event: GradlensErrorEvent) => void;
  'ongradlens-curve'?: (event: GradlensCurveEvent) => void;
}

/** An element's public properties (optional) as props, plus the ordinary HTML props, ref and key. */
type WidgetProps<E extends HTMLElement, K extends keyof E> = Partial<Pick<E, K>> &
  GradlensEvents &
  Omit<DetailedHTMLProps<HTMLAttributes<E>, E>, K | keyof GradlensEvents> & { theme?: 'light' | 'dark' };

type ExplainerProps = WidgetProps<
  GradlensExplainer,
  | 'model'
  | 'src'
  | 'image'
  | 'tensor'
  | 'preprocess'
  | 'method'
  | 'steps'
  | 'samples'
  | 'noise'
  | 'baseline'
  | 'layer'
  | 'target'
  | 'seed'
  | 'chunkSize'
  | 'baselines'
  | 'labels'
  | 'topK'
  | 'colormap'
  | 'sign'
  | 'opacity'
  | 'noControls'
>;
type HeatmapProps = WidgetProps<
  GradlensHeatmap,
  'attribution' | 'shape' | 'image' | 'colormap' | 'sign' | 'opacity' | 'percentile' | 'label' | 'range' | 'legendTitle' | 'units'
>;
type FeaturesProps = WidgetProps<
  GradlensFeatures,
  | 'model'
  | 'values'
  | 'featureNames'
  | 'attribution'
  | 'method'
  | 'steps'
  | 'samples'
  | 'noise'
  | 'baseline'
  | 'baselines'
  | 'target'
  | 'seed'
  | 'labels'
  | 'maxFeatures'
  | 'noControls'
>;
type TextProps = WidgetProps<
  GradlensText,
  | 'model'
  | 'text'
  | 'ids'
  | 'tokens'
  | 'attribution'
  | 'method'
  | 'steps'
  | 'target'
  | 'seed'
  | 'baselineToken'
  | 'reduce'
  | 'labels'
  | 'noControls'
  | 'theme'
>;
type CompareProps = WidgetProps<
  GradlensCompare,
  | 'model'
  | 'src'
  | 'image'
  | 'tensor'
  | 'preprocess'
  | 'methods'
  | 'steps'
  | 'samples'
  | 'noise'
  | 'target'
  | 'seed'
  | 'colormap'
  | 'sign'
  | 'opacity'
  | 'scale'
  | 'labels'
>;
type CurveProps = WidgetProps<
  GradlensCurve,
  | 'curves'
  | 'model'
  | 'input'
  | 'attribution'
  | 'mode'
  | 'steps'
  | 'replacement'
  | 'patch'
  | 'target'
  | 'score'
  | 'seed'
  | 'xLabel'
  | 'yLabel'
  | 'label'
>;

declare module 'react' {
  namespace JSX {
    interface IntrinsicElements {
      'gradlens-explainer': ExplainerProps;
      'gradlens-heatmap': HeatmapProps;
      'gradlens-features': FeaturesProps;
      'gradlens-text': TextProps;
      'gradlens-compare': CompareProps;
      'gradlens-curve': CurveProps;
    }
  }
}
