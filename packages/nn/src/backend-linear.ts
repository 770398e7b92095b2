import * as tf from '@tensorflow/tfjs-core';
import { linear } from './linear';
import { transposeMatrix } from './transpose-matrix';
import { ShapeError } from '@hgm/tensor';

/**
 * `y = x Wᵀ + b` with a PyTorch-layout weight, as {@link linear}, written so that each backend runs its fast
 * kernel. The wasm backend (tfjs 4.22) sends a matMul to XNNPACK only when neither operand is transposed
 * and both are unbatched; `matMul(x, W, false, true)` falls to a scalar loop about 10x slower. There the
 * product is computed as `(W xᵀ)ᵀ`: the weight is the left operand as stored (no copy of it, no packed copy
 * kept by XNNPACK), and only the activations are transposed (see {@link transposeMatrix}). Other backends use {@link linear}.
 * Same values up to float rounding.
 *
 * @param x [..., in]
 * @param weight [out, in]
 * @param bias [out] or undefined
 * @returns [..., out]
 */
export function backendLinear(x: tf.Tensor, weight: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  if (tf.getBackend() !== 'wasm') return linear(x, weight, bias);
  return tf.tidy(() => {
    const [outDim, inDim] = weight.shape as [number, number];
    if (x.shape[x.rank - 1] !== inDim) throw new ShapeError(`backendLinear: x has width ${x.shape[x.rank - 1]}, the weight [${outDim}, ${inDim}] expects ${inDim}`, { input: 'x', expected: `[..., ${inDim}]`, found: `[${x.shape.join(', ')}]` });
    const lead = x.shape.slice(0, -1);
    const xT = tf.transpose(tf.reshape(x, [-1, inDim]));
    let y: tf.Tensor = transposeMatrix(tf.matMul(weight, xT));
    if (bias) y = tf.add(y, bias);
    return tf.reshape(y, [...lead, outDim]);
  });
}
