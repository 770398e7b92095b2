import * as tf from '@tensorflow/tfjs-core';
import { DeviceLimitError, ShapeError, storageBindingLimit } from '@hgm/tensor';
import { scaledDotProductAttention } from './attention';

const BYTES_PER_SCORE = 4;

/**
 * The most bytes one tensor of attention scores may take on the active backend: on webgpu the storage
 * binding limit (`maxStorageBufferBindingSize`, 128 MiB on lavapipe; a kernel cannot bind a larger buffer),
 * elsewhere no limit. See `storageBindingLimit` of `@hgm/tensor`.
 */
export function attentionScoreLimit(): number {
  return storageBindingLimit();
}

/**
 * `softmax(q kᵀ · scale + mask) v` as {@link scaledDotProductAttention}, computed in pieces whose score
 * matrices each fit `maxScoreBytes`: groups of (batch, head) pairs, and, when one head's [Nq, Nk] scores do
 * not fit, blocks of query rows. The same values (each row's softmax sees all its keys) and gradients; only
 * one piece's scores are alive at a time in the forward pass. At 512 px and batch 8, DINOv3 ViT-L/16's
 * scores of one layer are 8 x 16 x 1029² x 4 B = 542 MB, which no 128 MiB binding holds.
 *
 * @param q [B, heads, Nq, d]
 * @param k [B, heads, Nk, d]
 * @param v [B, heads, Nk, dv]
 * @param mask additive mask broadcastable to [B, heads, Nq, Nk], optional
 * @param scale default d^-0.5
 * @param maxScoreBytes default {@link attentionScoreLimit}
 * @returns [B, heads, Nq, dv]
 */
export function splitAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  mask?: tf.Tensor,
  scale?: number,
  maxScoreBytes: number = attentionScoreLimit(),
): tf.Tensor4D {
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) {
    throw new ShapeError(`splitAttention: q, k, v must be [B, heads, N, d], found [${q.shape.join(', ')}], [${k.shape.join(', ')}], [${v.shape.join(', ')}]`, {
      input: 'q, k, v',
      expected: '[B, heads, N, d]',
      found: `[${q.shape.join(', ')}], [${k.shape.join(', ')}], [${v.shape.join(', ')}]`,
    });
  }
  const [b, h, nq, d] = q.shape as [number, number, number, number];
  const nk = k.shape[2]!;
  const dv = v.shape[3]!;
  const headBytes = nq * nk * BYTES_PER_SCORE;
  if (b * h * headBytes <= maxScoreBytes) return scaledDotProductAttention(q, k, v, mask, scale);
  if (nk * BYTES_PER_SCORE > maxScoreBytes) {
    throw new DeviceLimitError(
      `splitAttention: one query row's ${nk} scores (${nk * BYTES_PER_SCORE} bytes) exceed the storage binding limit of ${maxScoreBytes} bytes (maxStorageBufferBindingSize)`,
      'maxStorageBufferBindingSize',
      maxScoreBytes,
      nk * BYTES_PER_SCORE,
    );
  }
  const s = scale ?? 1 / Math.sqrt(d);
  return tf.tidy(() => {
    const bh = b * h;
    const qf = tf.reshape(q, [bh, nq, d]);
    const kf = tf.reshape(k, [bh, nk, d]);
    const vf = tf.reshape(v, [bh, nk, dv]);
    // A mask of rank <= 2 is the same for every head; a larger one is broadcast and cut like the heads.
    const shared = mask && mask.rank <= 2 ? mask : undefined;
    const maskf = mask && mask.rank > 2 ? tf.reshape(tf.broadcastTo(mask, [b, h, nq, nk]), [bh, nq, nk]) : undefined;
    const pieces: tf.Tensor[] = [];
    if (headBytes <= maxScoreBytes) {
      const per = Math.max(1, Math.floor(maxScoreBytes / headBytes));
      for (let i = 0; i < bh; i += per) {
        const n = Math.min(per, bh - i);
        pieces.push(
          tf.tidy(() => {
            const m = maskf ? tf.slice(maskf, [i, 0, 0], [n, nq, nk]) : shared;
            return scaledDotProductAttention(
              tf.slice(qf, [i, 0, 0], [n, nq, d]),
              tf.slice(kf, [i, 0, 0], [n, nk, d]),
              tf.slice(vf, [i, 0, 0], [n, nk, dv]),
              m,
              s,
            );
          }),
        );
      }
      return tf.reshape(tf.concat(pieces, 0), [b, h, nq, dv]) as tf.Tensor4D;
    }
    const rows = Math.max(1, Math.floor(maxScoreBytes / (nk * BYTES_PER_SCORE)));
    for (let i = 0; i < bh; i++) {
      const ki = tf.slice(kf, [i, 0, 0], [1, nk, d]);
      const vi = tf.slice(vf, [i, 0, 0], [1, nk, dv]);
      const blocks: tf.Tensor[] = [];
      for (let r = 0; r < nq; r += rows) {
        const n = Math.min(rows, nq - r);
        blocks.push(
          tf.tidy(() => {
            const m = maskf
              ? tf.slice(maskf, [i, r, 0], [1, n, nk])
              : shared && shared.rank === 2 && shared.shape[0] === nq
                ? tf.slice(shared, [r, 0], [n, nk])
                : shared;
            return scaledDotProductAttention(tf.slice(qf, [i, r, 0], [1, n, d]), ki, vi, m, s);
          }),
        );
      }
      pieces.push(tf.concat(blocks, 1));
    }
    return tf.reshape(tf.concat(pieces, 0), [b, h, nq, dv]) as tf.Tensor4D;
  });
}
