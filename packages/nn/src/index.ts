// @hgm/nn: generic, backend-aware neural-network building blocks in tfjs-core. Knows tensors, not encoders.
export { linear, project } from './linear';
export { layerNorm } from './layer-norm';
export { quickGelu, gelu } from './activations';
export { splitHeads, mergeHeads, scaledDotProductAttention, causalMask } from './attention';
export { transformerMlp, type LinearWeights } from './transformer-mlp';
export { qkvProjection, qkvProjectionStacked, type QkvHeads } from './qkv-projection';
export { multiHeadAttention, multiHeadAttentionStacked } from './multi-head-attention';
export { splitAttention, attentionScoreLimit } from './split-attention';
export { transposeMatrix } from './transpose-matrix';
export { gatherRow, unstackRows } from './unstack-rows';
export { bilinearResizeMatrix } from './bilinear-resize-matrix';
export { cubicKernel, bicubicWeights, resizeBicubic, type BicubicOptions } from './bicubic-resize';
export { matMulFast, matMulTransposedB, oneHotRow, stackFirst } from './wasm-gradients';
export { recomputeInBackward } from './recompute';
