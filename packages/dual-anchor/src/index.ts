// @hgm/dual-anchor: the Dual-Anchor anomaly detector (backbone + HGM + GGTR + DSP) and the AnomalyCLIP baseline.
export * from './config';
export { FeatureAdapters, type LinearAdapter } from './adapters';
export {
  separableLinear,
  bilinearMatrix,
  gaussianKernel1d,
  gaussianBlurMatrix,
  gaussianBlur,
  reflectIndex,
  upsampleBilinear,
  l2Normalize,
  stateLogits,
  anomalyFromProbabilities,
} from './maps';
export {
  clipVisionBackbone,
  imageEncoderBackbone,
  executorBackbone,
  disposeVisionFeatures,
  type ClipTokenEncoder,
  type VisionBackbone,
  type VisionFeatures,
} from './vision-features';
export { clipPromptTextSpec } from './text-spec';
export { randomizeBackboneWeights } from './random-weights';
export { countParameters, type ParameterCounts } from './parameter-count';
export {
  DualAnchorModel,
  disposeDualAnchorOutput,
  disposeLossResult,
  lossValues,
  moduleOf,
  architectureOf,
  type DualAnchorOutput,
  type ForwardOptions,
  type TrainingBatch,
  type LossResult,
  type LossValues,
  type FrozenParts,
  type VisionSource,
  type TextTowerExecutor,
} from './dual-anchor-model';
export { buildRandomModel, buildTinyModel, buildModel, mergeConfigInput, frozenVariables } from './build';
