import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@hgm/tensor';
import { transposeMatrix } from './transpose-matrix';
import { matMulFast } from './wasm-gradients';

/**
 * `y = x Wᵀ + b` with a PyTorch-layout weight, on each backend through its fast kernel. The wasm backend
 * (tfjs 4.22) sends a matMul to XNNPACK only when neither operand is transposed and both are unbatched;
 * `matMul(x, W, false, true)` falls to a scalar loop about 10x slower. There the product is computed as
 * `(W xᵀ)ᵀ`: the weight is the left operand as stored (no copy of it, no packed copy kept by XNNPACK), and
 * only the activations are transposed (see {@link transposeMatrix}). Other backends compute `x Wᵀ` directly.
 * The two routes give the same values up to float rounding, with the gradients of `x Wᵀ + b`.
 *
 * @param x [..., in]
 * @param weight [out, in]
 * @param bias [out] or undefined
 * @returns [..., out]
 */
export function linear(x: tf.Tensor, weight: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [outDim, inDim] = weight.shape as [number, number];
    if (x.shape[x.rank - 1] !== inDim)
      throw new ShapeError(`linear: x has width ${x.shape[x.rank - 1]}, the weight [${outDim}, ${inDim}] expects ${inDim}`, {
        input: 'x',
        expected: `[..., ${inDim}]`,
        found: `[${x.shape.join(', ')}]`,
      });
    const lead = x.shape.slice(0, -1);
    const x2 = tf.reshape(x, [-1, inDim]);
    let y: tf.Tensor =
      tf.getBackend() === 'wasm' ? transposeMatrix(matMulFast(weight as tf.Tensor2D, tf.transpose(x2) as tf.Tensor2D)) : tf.matMul(x2, weight, false, true);
    if (bias) y = tf.add(y, bias);
    return tf.reshape(y, [...lead, outDim]);
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
