// @hgm/losses: losses for zero-shot anomaly detection in tfjs-core: focal, Dice, BCE, cross-entropy,
// orthogonality, group alignment, and the composite map loss.
export { type Reduction, REDUCTIONS } from './reduction';
export { focalLoss, resolveFocalLossConfig, DEFAULT_FOCAL_LOSS_CONFIG, type FocalLossConfig } from './focal-loss';
export { binaryDiceLoss, resolveBinaryDiceLossConfig, DEFAULT_BINARY_DICE_LOSS_CONFIG, type BinaryDiceLossConfig } from './binary-dice-loss';
export { crossEntropy, resolveCrossEntropyConfig, DEFAULT_CROSS_ENTROPY_CONFIG, type CrossEntropyConfig } from './cross-entropy';
export { bceWithLogits, resolveBceWithLogitsConfig, DEFAULT_BCE_WITH_LOGITS_CONFIG, type BceWithLogitsConfig } from './bce-with-logits';
export { sigmoidFocalLoss, resolveSigmoidFocalLossConfig, DEFAULT_SIGMOID_FOCAL_LOSS_CONFIG, type SigmoidFocalLossConfig } from './sigmoid-focal-loss';
export { unitNormalize, cosineSimilarity } from './unit-normalize';
export { orthogonalityLoss, resolveOrthogonalityLossConfig, DEFAULT_ORTHOGONALITY_LOSS_CONFIG, type OrthogonalityLossConfig } from './orthogonality-loss';
export { maskToPatchGrid, MASK_DOWNSAMPLINGS, type MaskDownsampling } from './mask-to-patch-grid';
export {
  groupAlignmentLoss,
  resolveGroupAlignmentLossConfig,
  DEFAULT_GROUP_ALIGNMENT_LOSS_CONFIG,
  type GroupAlignmentLossConfig,
  type GroupAlignmentInputs,
} from './group-alignment-loss';
export {
  mapLoss,
  mapsLoss,
  resolveMapLossConfig,
  DEFAULT_MAP_LOSS_CONFIG,
  type MapLossConfig,
  type MapLossConfigInput,
  type MapLossTerms,
  type MapsLossResult,
} from './map-loss';
