import * as tf from '@tensorflow/tfjs-core';

/**
 * `y = x Wᵀ + b` with a PyTorch-layout weight, as {@link linear}, but formulated per backend for speed:
 * the wasm backend (tfjs 4.22) runs `matMul(.., transposeB = true)` outside XNNPACK, about 7x slower
 * than a plain matMul, so there the weight is transposed first (a transient copy of one weight); the
 * other backends use `transposeB`, which costs them nothing. Same values up to float rounding.
 *
 * @param x [..., in]
 * @param weight [out, in]
 * @param bias [out] or undefined
 * @returns [..., out]
 */
export function fastLinear(x: tf.Tensor, weight: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [outDim, inDim] = weight.shape as [number, number];
    const lead = x.shape.slice(0, -1);
    const x2 = tf.reshape(x, [-1, inDim]);
    let y = tf.getBackend() === 'wasm' ? tf.matMul(x2, tf.transpose(weight)) : tf.matMul(x2, weight, false, true);
    if (bias) y = tf.add(y, bias);
    return tf.reshape(y, [...lead, outDim]);
  });
}
