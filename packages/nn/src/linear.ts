import * as tf from '@tensorflow/tfjs-core';

/**
 * y = x W^T + b with a PyTorch-layout weight.
 * @param x [..., in]
 * @param weight [out, in]
 * @param bias [out] or undefined
 * @returns [..., out]
 */
export function linear(x: tf.Tensor, weight: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inDim = weight.shape[1]!;
    const lead = x.shape.slice(0, -1);
    const x2 = tf.reshape(x, [-1, inDim]);
    let y = tf.matMul(x2, weight, false, true);
    if (bias) y = tf.add(y, bias);
    return tf.reshape(y, [...lead, weight.shape[0]!]);
  });
}

/**
 * y = x P for a projection stored [in, out] (CLIP's `visual.proj`, `text_projection`).
 * @param x [..., in]
 * @param projection [in, out]
 * @returns [..., out]
 */
export function project(x: tf.Tensor, projection: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const lead = x.shape.slice(0, -1);
    const y = tf.matMul(tf.reshape(x, [-1, projection.shape[0]!]), projection);
    return tf.reshape(y, [...lead, projection.shape[1]!]);
  });
}
