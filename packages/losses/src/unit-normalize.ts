import * as tf from '@tensorflow/tfjs-core';

/**
 * x / max(||x||, eps) over the last axis, as torch's `F.normalize` (to be called inside a `tf.tidy`).
 * The norm is sqrt(max(||x||^2, eps^2)), so the gradient stays finite (zero) at x = 0.
 * @param x [..., D]
 * @returns [..., D]
 */
export function unitNormalize(x: tf.Tensor, eps: number): tf.Tensor {
  const squaredNorm = tf.sum(tf.square(x), -1, true);
  return tf.div(x, tf.sqrt(tf.maximum(squaredNorm, eps * eps)));
}

/**
 * Cosine similarity over the last axis with `unitNormalize`'s eps (inside a `tf.tidy`).
 * @param a [..., D]
 * @param b [..., D]
 * @returns [...]
 */
export function cosineSimilarity(a: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  return tf.sum(tf.mul(unitNormalize(a, eps), unitNormalize(b, eps)), -1);
}
