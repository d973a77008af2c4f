// The widgets: importing this module defines the <gradlens-*> elements.
export { GradlensExplainer } from './gradlens-explainer.ts';
export { GradlensHeatmap } from './gradlens-heatmap.ts';
export {
  ExplainController,
  configureLens,
  lens,
  releaseLens,
  topK,
  type ExplainStatus,
  type Prediction,
  type RunOptions,
} from './explain-controller.ts';
export type * from './events.ts';
export { GradlensFeatures } from './gradlens-features.ts';
export { GradlensText } from './gradlens-text.ts';
export { GradlensCompare } from './gradlens-compare.ts';
export { GradlensCurve } from './gradlens-curve.ts';
export { areaUnder, computeCurves, type CurveMode, type CurveSeries } from './curve.ts';
