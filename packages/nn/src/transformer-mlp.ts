import * as tf from '@tensorflow/tfjs-core';
import { storageBindingLimit, ShapeError } from '@hgm/tensor';
import { linear } from './linear';
import { transposeMatrix } from './transpose-matrix';
import { matMulFast } from './wasm-gradients';

/** Weight [out, in] and bias [out] of one linear layer (PyTorch layout). */
export interface LinearWeights {
  weight: tf.Tensor;
  bias?: tf.Tensor;
}

/**
 * The transformer MLP `fc2(act(fc1(x)))` with PyTorch-layout weights, written so that each backend runs its
 * fast kernels. On wasm (tfjs 4.22) the hidden layer stays transposed: `hᵀ = W1 xᵀ + b1`, `act(hᵀ)`,
 * `yᵀ = W2 act(hᵀ) + b2`, each product an untransposed, unbatched matMul with the weight as stored on the
 * left (the XNNPACK path, no copy of the weights); only x and y are transposed, never the 4x wider hidden
 * layer. Other backends compute `linear(act(linear(x, W1, b1)), W2, b2)`, in blocks of rows where the hidden
 * layer would exceed `maxHiddenBytes` (on webgpu one storage binding: at 512 px and batch 8 DINOv3 ViT-L/16's
 * hidden layer is 8 x 1029 x 4096 x 4 B = 135 MB, over lavapipe's 128 MiB). Same values up to float rounding.
 *
 * @param x [..., in]
 * @param fc1 weight [hidden, in], bias [hidden]
 * @param activation elementwise (GELU, QuickGELU, ...)
 * @param fc2 weight [out, hidden], bias [out]
 * @param maxHiddenBytes default `storageBindingLimit()` of `@hgm/tensor` (Infinity off webgpu)
 * @returns [..., out]
 */
export function transformerMlp(
  x: tf.Tensor,
  fc1: LinearWeights,
  activation: (h: tf.Tensor) => tf.Tensor,
  fc2: LinearWeights,
  maxHiddenBytes: number = storageBindingLimit(),
): tf.Tensor {
  const [hidden, inDim] = fc1.weight.shape as [number, number];
  const [outDim, hidden2] = fc2.weight.shape as [number, number];
  if (x.shape[x.rank - 1] !== inDim || hidden2 !== hidden) {
    throw new ShapeError(`transformerMlp: x width ${x.shape[x.rank - 1]}, fc1 [${hidden}, ${inDim}], fc2 [${outDim}, ${hidden2}] do not chain`, {
      input: 'x, fc1, fc2',
      expected: `x [..., ${inDim}] and fc2 [out, ${hidden}]`,
      found: `x [${x.shape.join(', ')}], fc2 [${outDim}, ${hidden2}]`,
    });
  }
  if (tf.getBackend() !== 'wasm') {
    const mlp = (t: tf.Tensor) => linear(activation(linear(t, fc1.weight, fc1.bias)), fc2.weight, fc2.bias);
    const rows = x.size / inDim;
    const perBlock = Math.max(1, Math.floor(maxHiddenBytes / (4 * hidden)));
    if (rows <= perBlock) return tf.tidy(() => mlp(x));
    return tf.tidy(() => {
      const flat = tf.reshape(x, [rows, inDim]);
      const blocks: tf.Tensor[] = [];
      for (let r = 0; r < rows; r += perBlock) blocks.push(tf.tidy(() => mlp(tf.slice(flat, [r, 0], [Math.min(perBlock, rows - r), inDim]))));
      const y = tf.concat(blocks, 0);
      return tf.reshape(y, [...x.shape.slice(0, -1), y.shape[1]!]);
    });
  }
  return tf.tidy(() => {
    const lead = x.shape.slice(0, -1);
    const column = (b: tf.Tensor) => tf.reshape(b, [-1, 1]);
    let h: tf.Tensor = matMulFast(fc1.weight as tf.Tensor2D, tf.transpose(tf.reshape(x, [-1, inDim])));
    if (fc1.bias) h = tf.add(h, column(fc1.bias));
    let y: tf.Tensor = matMulFast(fc2.weight as tf.Tensor2D, activation(h) as tf.Tensor2D);
    if (fc2.bias) y = tf.add(y, column(fc2.bias));
    return tf.reshape(transposeMatrix(y), [...lead, outDim]);
  });
}
