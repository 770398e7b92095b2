// CLIP (OpenAI ViT architecture) with AnomalyCLIP's V-V attention and compound text prompts.
export * from './config';
export * from './types';
export { ClipModel, type ClipModelOptions, type ClipLoadOptions, type ClipLogits } from './clip-model';
export { ClipVisionTransformer, type WeightLookup } from './vision-transformer';
export { ClipTextTransformer, replaceTokens } from './text-transformer';
export { clipParameterShapes, otherTowerKeyPatterns, type ClipTowers } from './parameters';
export { interpolatePositionalEmbedding } from './positional-embedding';
export { patchEmbedding } from './patch-embedding';
export { residualBlock, dualPathBlock, residualBlockWeights, residualBlockParameterShapes, type ResidualBlockWeights } from './residual-block';
