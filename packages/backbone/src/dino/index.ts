export { ropePeriods, ropeCoordinates, ropeTables, rotateHalf, applyRope, applyRopeStacked, type RopeTables, type RopeNormalizeCoords } from './rope';
export { interpolatePosEmbed, type PosEmbedInterpolation } from './pos-embed';
export { patchEmbed, patchGrid } from './patch-embed';
export { vitBlock, type VitBlockWeights, type VitBlockOptions, type AffineWeights } from './vit-block';
export {
  IMAGENET_MEAN,
  IMAGENET_STD,
  DINOV2_PREPROCESS,
  DINOV2_CROP_FRACTION,
  dinov2Preprocess,
  DINOV2_VITL14_REG,
  DEFAULT_DINOV2_CONFIG,
  resolveDinov2Config,
  dinov2ConfigFromReference,
  type Dinov2Config,
} from './dinov2-config';
export { DINOV3_PREPROCESS, DINOV3_VITL16, DEFAULT_DINOV3_CONFIG, resolveDinov3Config, dinov3ConfigFromReference, type Dinov3Config } from './dinov3-config';
export { dinov2StateDictKeys, dinov3StateDictKeys, type StateDictEntry } from './state-dict-keys';
export { DinoVisionTransformer, type DinoFeatures, type IntermediateLayersOptions, type IntermediateLayer, type DinoEncoderOptions } from './dino-vit';
export { Dinov2VisionTransformer } from './dinov2';
export { Dinov3VisionTransformer } from './dinov3';
export { dinoReferenceOutputs, parseDinoReferenceRun, type ReferenceIntermediateSpec, type ReferenceCase, type DinoReferenceRun } from './reference-outputs';
