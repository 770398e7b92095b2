import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@hgm/tensor';

/**
 * Splits [B, N, heads * headDim] into [B, heads, N, headDim].
 */
export function splitHeads(x: tf.Tensor, heads: number): tf.Tensor4D {
  const [b, n, c] = x.shape as [number, number, number];
  if (c % heads !== 0)
    throw new ShapeError(`splitHeads: width ${c} is not divisible by ${heads} heads`, { input: 'x', expected: `a width divisible by ${heads}`, found: `${c}` });
  return tf.transpose(tf.reshape(x, [b, n, heads, c / heads]), [0, 2, 1, 3]) as tf.Tensor4D;
}

/** Inverse of {@link splitHeads}: [B, heads, N, headDim] -> [B, N, heads * headDim]. */
export function mergeHeads(x: tf.Tensor): tf.Tensor3D {
  const [b, h, n, d] = x.shape as [number, number, number, number];
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b, n, h * d]) as tf.Tensor3D;
}

/**
 * softmax(q k^T * scale + mask) v per head.
 * @param q [B, heads, Nq, d]
 * @param k [B, heads, Nk, d]
 * @param v [B, heads, Nk, d]
 * @param mask additive mask broadcastable to [B, heads, Nq, Nk] (e.g. -inf above the diagonal), optional
 * @param scale default d^-0.5
 * @returns [B, heads, Nq, d]
 */
export function scaledDotProductAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask?: tf.Tensor, scale?: number): tf.Tensor4D {
  return tf.tidy(() => {
    const d = q.shape[q.rank - 1]!;
    let logits = tf.mul(tf.matMul(q, k, false, true), scale ?? 1 / Math.sqrt(d));
    if (mask) logits = tf.add(logits, mask);
    return tf.matMul(tf.softmax(logits), v) as tf.Tensor4D;
  });
}

/** A causal mask [N, N]: 0 on and below the diagonal, -inf above (as CLIP's text transformer). */
export function causalMask(n: number): tf.Tensor2D {
  const data = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) data[i * n + j] = -Infinity;
  return tf.tensor2d(data, [n, n]);
}
