// Evaluation metrics: faithfulness, robustness, randomisation, localisation, complexity.
export {
  perturbationCurve,
  deletion,
  insertion,
  trapezoid,
  faithfulnessCorrelation,
  sensitivityN,
  subsetCorrelation,
  nonSensitivity,
  type Curve,
  type CurveOptions,
  type PerturbationOptions,
  type SubsetOptions,
} from './faithfulness.ts';
export { featureMap, type Granularity, type Replacement } from './features.ts';
export { perturbedLogits, type PerturbationSet } from './perturb.ts';
export { infidelity, type InfidelityOptions } from './infidelity.ts';
export { sensitivity, type Explainer, type Sensitivity, type SensitivityOptions } from './robustness.ts';
export {
  modelRandomisation,
  randomisedModel,
  parameterLayers,
  randomLogit,
  mapSimilarity,
  type RandomisationStep,
  type Similarity,
} from './randomisation.ts';
export { completeness, type Completeness } from './completeness.ts';
export { pointingGame, relevanceMass, relevanceRank, boxMask, boxMasks, type Box } from './localisation.ts';
export { sparseness, complexity } from './complexity.ts';
export { spearman, pearson, ssim } from './similarity.ts';
export { lineChart, type Series } from './charts.ts';
export { road, ROAD_FRACTIONS, type RoadCurve, type RoadOptions } from './road.ts';
export { noisyLinearImputation, NEIGHBOURS, ROAD_NOISE, type ImputationOptions } from './imputation.ts';
