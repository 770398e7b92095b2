import * as tf from '@tensorflow/tfjs-core';

/**
 * LayerNorm over the last axis, as torch.nn.LayerNorm (biased variance).
 * @param x [..., C]
 * @param weight [C] or undefined (no affine)
 * @param bias [C] or undefined
 * @param eps 1e-5 for CLIP, 1e-6 for DINOv2/v3
 */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor | undefined, bias: tf.Tensor | undefined, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const axis = x.rank - 1;
    const mean = tf.mean(x, axis, true);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), axis, true);
    let y = tf.mul(centered, tf.rsqrt(tf.add(variance, eps)));
    if (weight) y = tf.mul(y, weight);
    if (bias) y = tf.add(y, bias);
    return y;
  });
}
