export { linear, project } from './linear';
export { layerNorm } from './layer-norm';
export { quickGelu, gelu } from './activations';
export { splitHeads, mergeHeads, scaledDotProductAttention, causalMask } from './attention';
export { fastLinear } from './fast-linear';
