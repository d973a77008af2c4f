// gradlens: gradient-based attribution on WebGPU. The public surface; everything else is internal.
export { createLens, Lens, LensModel, type AnyModel, type ModelSource } from './lens.ts';
export { explain } from './attribution/explain.ts';
export type {
  ExplainOptions,
  Explanation,
  Baseline,
  Target,
  ClassTarget,
  OutputTarget,
  StepTarget,
  RegionTarget,
  MaskTarget,
} from './attribution/types.ts';
export { explainTokens, perTokenOf, type TokenExplanation, type TokenOptions, type TokenReduction } from './attribution/tokens.ts';
export { METHODS, METHOD_IDS, type MethodId } from './attribution/registry.ts';
export { defaultOf, hasOption, methodTable, optionUses, type OptionUse } from './attribution/describe.ts';
export type { Capabilities, MethodDescription, OptionKey, OptionSpec } from './attribution/types.ts';
export { GradlensError, isGradlensError, type ErrorCode } from './gpu/errors.ts';
export type { AdapterOptions, Backend } from './gpu/adapter.ts';
export type { AdapterReport } from './gpu/device.ts';
export { loadOnnx } from './onnx/load.ts';
export { GraphBuilder } from './graph/builder.ts';
export { Model } from './graph/model.ts';
export type { Graph } from './graph/ir.ts';
export { renderHeatmap, colormap, legendStops, type Heatmap, type HeatmapOptions } from './render/index.ts';
export { preprocess, type PreprocessOptions } from './io/preprocess.ts';
export { ctcClasses, ctcGreedy, type RecognisedCharacter } from './io/ctc.ts';
export { readNpy, writeNpy } from './io/npy.ts';
export { tokenize } from './io/tokenize.ts';
export { tokenShades, tokenPeak, type TokenShade } from './render/tokens.ts';
export * as metrics from './metrics/index.ts';
