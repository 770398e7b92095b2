import * as tf from '@tensorflow/tfjs-core';
import { linear, multiHeadAttentionStacked, transformerMlp, layerNorm, gelu, mergeHeads, qkvProjectionStacked } from '@hgm/nn';
import { applyRopeStacked, type RopeTables } from './rope';

/** Weight and bias of a LayerNorm or a linear layer (bias absent when the reference has none). */
export interface AffineWeights {
  weight: tf.Tensor;
  bias?: tf.Tensor;
}

/**
 * The tensors of one pre-norm ViT block as DINOv2's `NestedTensorBlock` and DINOv3's `SelfAttentionBlock`
 * hold them (official names `blocks.{i}.norm1.weight`, `attn.qkv.weight`, `ls1.gamma`, `mlp.fc1.weight`, ...).
 */
export interface VitBlockWeights {
  norm1: AffineWeights;
  /** qkv.weight [3C, C], qkv.bias [3C] */
  qkv: AffineWeights;
  /** DINOv3 `attn.qkv.bias_mask` [3C]: the effective bias is `bias * biasMask` (1 for q and v, 0 for k). */
  qkvBiasMask?: tf.Tensor;
  proj: AffineWeights;
  /** LayerScale gamma [C] after attention (absent: no layer scale). */
  ls1?: tf.Tensor;
  norm2: AffineWeights;
  fc1: AffineWeights;
  fc2: AffineWeights;
  ls2?: tf.Tensor;
}

export interface VitBlockOptions {
  numHeads: number;
  /** LayerNorm epsilon (DINOv2 1e-6; DINOv3 `layernormbf16` 1e-5). */
  eps: number;
  /** RoPE tables for the patch tokens (DINOv3); the leading `N - HW` tokens are not rotated. */
  rope?: RopeTables;
}

/**
 * `x + ls1(attn(norm1(x)))`, then `+ ls2(mlp(norm2(.)))`, with exact-erf GELU and softmax attention scaled
 * by headDim^-1/2. The linear layers and the attention use the backend-aware formulations of `../layers`
 * (XNNPACK-friendly 2-D products on wasm).
 * @param x [B, N, C]
 * @returns [B, N, C]
 */
export function vitBlock(x: tf.Tensor3D, w: VitBlockWeights, options: VitBlockOptions): tf.Tensor3D {
  return tf.tidy(() => {
    const h1 = layerNorm(x, w.norm1.weight, w.norm1.bias, options.eps);
    const qkvBias = w.qkv.bias && w.qkvBiasMask ? tf.mul(w.qkv.bias, w.qkvBiasMask) : w.qkv.bias;
    let qkv = qkvProjectionStacked(h1, w.qkv.weight, qkvBias, options.numHeads);
    if (options.rope) qkv = applyRopeStacked(qkv, options.rope);
    let attn: tf.Tensor = linear(mergeHeads(multiHeadAttentionStacked(qkv)), w.proj.weight, w.proj.bias);
    if (w.ls1) attn = tf.mul(attn, w.ls1);
    const x1 = tf.add(x, attn);
    const h2 = layerNorm(x1, w.norm2.weight, w.norm2.bias, options.eps);
    let mlp = transformerMlp(h2, w.fc1, gelu, w.fc2);
    if (w.ls2) mlp = tf.mul(mlp, w.ls2);
    return tf.add(x1, mlp) as tf.Tensor3D;
  });
}
