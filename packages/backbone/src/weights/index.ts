// Checkpoint key formats, conversions and loading (browser-safe). Node-only parts: `./node`.
export * from './key-formats';
export type {
  TensorTransform,
  ConcatTransform,
  ConcatInput,
  SplitTransform,
  SplitOutput,
  TransposeTransform,
  ReshapeTransform,
  QkvBiasMaskTransform,
  RopePeriodsTransform,
  ConversionContext,
} from './tensor-transforms';
export * from './conversions';
export * from './convert';
export * from './tensor-source';
export * from './load-weights';
export * from './safetensors-encode';
export * from './catalogue';
export * from './random-weights';
