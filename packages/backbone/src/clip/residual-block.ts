import * as tf from '@tensorflow/tfjs-core';
import { layerNorm, quickGelu, mergeHeads, linear, transformerMlp, qkvProjection, multiHeadAttention } from '@hgm/nn';

/**
 * Weights of one `clip/model.py:ResidualAttentionBlock` (pre-norm, `nn.MultiheadAttention` with a fused
 * `in_proj`, QuickGELU MLP). Linear weights are torch-layout [out, in].
 */
export interface ResidualBlockWeights {
  ln1Weight: tf.Tensor1D;
  ln1Bias: tf.Tensor1D;
  /** [3W, W], rows q, k, v. */
  inProjWeight: tf.Tensor2D;
  /** [3W] */
  inProjBias: tf.Tensor1D;
  /** [W, W] */
  outProjWeight: tf.Tensor2D;
  outProjBias: tf.Tensor1D;
  ln2Weight: tf.Tensor1D;
  ln2Bias: tf.Tensor1D;
  /** [4W, W] */
  fcWeight: tf.Tensor2D;
  fcBias: tf.Tensor1D;
  /** [W, 4W] */
  projWeight: tf.Tensor2D;
  projBias: tf.Tensor1D;
}

/** State-dict key suffixes of a block (after `...resblocks.{i}.`) with their shapes for width W. */
export function residualBlockParameterShapes(width: number): [suffix: string, shape: number[]][] {
  return [
    ['attn.in_proj_weight', [3 * width, width]],
    ['attn.in_proj_bias', [3 * width]],
    ['attn.out_proj.weight', [width, width]],
    ['attn.out_proj.bias', [width]],
    ['ln_1.weight', [width]],
    ['ln_1.bias', [width]],
    ['mlp.c_fc.weight', [4 * width, width]],
    ['mlp.c_fc.bias', [4 * width]],
    ['mlp.c_proj.weight', [width, 4 * width]],
    ['mlp.c_proj.bias', [width]],
    ['ln_2.weight', [width]],
    ['ln_2.bias', [width]],
  ];
}

/** Collects a block's weights by state-dict name through `get` (e.g. a ParameterStore's). */
export function residualBlockWeights(get: (name: string) => tf.Tensor, prefix: string): ResidualBlockWeights {
  return {
    ln1Weight: get(`${prefix}ln_1.weight`) as tf.Tensor1D,
    ln1Bias: get(`${prefix}ln_1.bias`) as tf.Tensor1D,
    inProjWeight: get(`${prefix}attn.in_proj_weight`) as tf.Tensor2D,
    inProjBias: get(`${prefix}attn.in_proj_bias`) as tf.Tensor1D,
    outProjWeight: get(`${prefix}attn.out_proj.weight`) as tf.Tensor2D,
    outProjBias: get(`${prefix}attn.out_proj.bias`) as tf.Tensor1D,
    ln2Weight: get(`${prefix}ln_2.weight`) as tf.Tensor1D,
    ln2Bias: get(`${prefix}ln_2.bias`) as tf.Tensor1D,
    fcWeight: get(`${prefix}mlp.c_fc.weight`) as tf.Tensor2D,
    fcBias: get(`${prefix}mlp.c_fc.bias`) as tf.Tensor1D,
    projWeight: get(`${prefix}mlp.c_proj.weight`) as tf.Tensor2D,
    projBias: get(`${prefix}mlp.c_proj.bias`) as tf.Tensor1D,
  };
}

/**
 * q, k, v of the fused in-projection, split into heads: each [B, heads, N, d]. The layer helpers keep the
 * weights as stored and avoid the transposed and batched products that the wasm backend runs slowly.
 */
function qkvHeads(y: tf.Tensor, w: ResidualBlockWeights, heads: number): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] {
  const { q, k, v } = qkvProjection(y, w.inProjWeight, w.inProjBias, heads);
  return [q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D];
}

function mlp(x: tf.Tensor, w: ResidualBlockWeights): tf.Tensor {
  return transformerMlp(x, { weight: w.fcWeight, bias: w.fcBias }, quickGelu, { weight: w.projWeight, bias: w.projBias });
}

/**
 * `x + attn(ln_1(x)); x + mlp(ln_2(x))`.
 * @param x [B, N, W]
 * @param mask additive attention mask [N, N] (the text tower's causal mask) or undefined
 * @returns [B, N, W]
 */
export function residualBlock(x: tf.Tensor3D, w: ResidualBlockWeights, heads: number, eps: number, mask?: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => {
    const [q, k, v] = qkvHeads(layerNorm(x, w.ln1Weight, w.ln1Bias, eps), w, heads);
    const attn = linear(mergeHeads(multiHeadAttention(q, k, v, mask)), w.outProjWeight, w.outProjBias);
    const h = tf.add(x, attn);
    return tf.add(h, mlp(layerNorm(h, w.ln2Weight, w.ln2Bias, eps), w)) as tf.Tensor3D;
  });
}

/**
 * AnomalyCLIP's dual-path block with V-V attention (its `Attention` class in a `ResidualAttentionBlock`).
 * With `y = ln_1(xOri)` and q, k, v of `y`:
 * - original path: `xOri + out_proj(softmax(q kᵀ s) v)`, then `+ mlp(ln_2(.))`;
 * - V-V path: `xVV + out_proj(softmax(v vᵀ s) v)`, no MLP.
 *
 * @param xVV [B, N, W] the V-V path so far (equal to `xOri` in the first V-V block)
 * @param xOri [B, N, W] the original path so far
 * @returns [xVV', xOri'], each [B, N, W]
 */
export function dualPathBlock(xVV: tf.Tensor3D, xOri: tf.Tensor3D, w: ResidualBlockWeights, heads: number, eps: number): [tf.Tensor3D, tf.Tensor3D] {
  const out = tf.tidy(() => {
    const [q, k, v] = qkvHeads(layerNorm(xOri, w.ln1Weight, w.ln1Bias, eps), w, heads);
    const attnOri = linear(mergeHeads(multiHeadAttention(q, k, v)), w.outProjWeight, w.outProjBias);
    const attnVV = linear(mergeHeads(multiHeadAttention(v, v, v)), w.outProjWeight, w.outProjBias);
    const h = tf.add(xOri, attnOri);
    const ori = tf.add(h, mlp(layerNorm(h, w.ln2Weight, w.ln2Bias, eps), w)) as tf.Tensor3D;
    const vv = tf.add(xVV, attnVV) as tf.Tensor3D;
    return [vv, ori];
  });
  return [out[0]!, out[1]!];
}
