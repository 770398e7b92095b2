import * as tf from '@tensorflow/tfjs-core';

/** CLIP's QuickGELU: x * sigmoid(1.702 x). */
export function quickGelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(tf.mul(x, 1.702))));
}

/**
 * Exact GELU, x * Phi(x), as torch.nn.GELU() (approximate='none'). tfjs-core has no erf gradient on every
 * backend, so Phi uses tf.erf, which all backends implement.
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}
