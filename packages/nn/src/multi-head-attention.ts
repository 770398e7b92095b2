import * as tf from '@tensorflow/tfjs-core';
import { splitAttention } from './split-attention';
import { gatherRow, unstackRows } from './unstack-rows';
import { matMulFast, stackFirst } from './wasm-gradients';
import { ShapeError } from '@hgm/tensor';

/**
 * `softmax(q kᵀ * scale + mask) v` per head, as {@link scaledDotProductAttention}, written so that each backend
 * runs its fast kernel. The wasm backend (tfjs 4.22) runs batched or transposed matMuls in a scalar loop
 * (about 1 GFLOP/s) and sends only unbatched, untransposed ones to XNNPACK; there each (batch, head) pair
 * is two 2-D products (`q_i (k_iᵀ)` with `kᵀ` transposed once for all heads, then `p_i v_i`), one head at a
 * time so that only one [Nq, Nk] score matrix is alive; the per-head matrices are taken with
 * {@link unstackRows} (no slices, which the wasm kernels run slowly). Other backends use
 * {@link splitAttention}: whole attention, in pieces where the scores exceed a WebGPU storage binding. Same values up to float rounding.
 *
 * @param q [B, heads, Nq, d]
 * @param k [B, heads, Nk, d]
 * @param v [B, heads, Nk, dv]
 * @param mask additive mask broadcastable to [B, heads, Nq, Nk], optional
 * @param scale default d^-0.5
 * @returns [B, heads, Nq, dv]
 */
export function multiHeadAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask?: tf.Tensor, scale?: number): tf.Tensor4D {
  if (tf.getBackend() !== 'wasm') return splitAttention(q, k, v, mask, scale);
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) {
    throw new ShapeError(
      `multiHeadAttention: q, k, v must be [B, heads, N, d], found [${q.shape.join(', ')}], [${k.shape.join(', ')}], [${v.shape.join(', ')}]`,
      { input: 'q, k, v', expected: '[B, heads, N, d]', found: `[${q.shape.join(', ')}], [${k.shape.join(', ')}], [${v.shape.join(', ')}]` },
    );
  }
  const [b, h, nq, d] = q.shape as [number, number, number, number];
  const nk = k.shape[2]!;
  const dv = v.shape[3]!;
  const s = scale ?? 1 / Math.sqrt(d);
  return tf.tidy(() => {
    // Per-head matrices taken row by row without slices (see unstackRows).
    const heads = (t: tf.Tensor, rows: number, cols: number) => unstackRows(tf.reshape(t, [b * h, rows, cols]));
    const qs = heads(q, nq, d);
    const kTs = heads(tf.transpose(tf.reshape(k, [b * h, nk, d]), [0, 2, 1]), d, nk);
    const vs = heads(v, nk, dv);
    // A mask of rank <= 2 is the same for every head; a larger one is broadcast and taken per head.
    const masks = mask && mask.rank > 2 ? heads(tf.broadcastTo(mask, [b, h, nq, nk]), nq, nk) : undefined;
    const outs = attendHeads(b * h, (i) => [qs[i]!, kTs[i]!, vs[i]!], s, mask, masks);
    return tf.reshape(outs, [b, h, nq, dv]) as tf.Tensor4D;
  });
}

/**
 * Self-attention from stacked queries, keys and values (as `qkvProjectionStacked` returns them), as
 * {@link multiHeadAttention} of the three parts; on wasm each head's q, k, v are taken straight out of the
 * stacked tensor, so q, k and v are never split (a slice copies its whole input there).
 *
 * @param qkv [3, B, heads, N, d]
 * @param mask additive mask broadcastable to [B, heads, N, N], optional
 * @param scale default d^-0.5
 * @returns [B, heads, N, d]
 */
export function multiHeadAttentionStacked(qkv: tf.Tensor, mask?: tf.Tensor, scale?: number): tf.Tensor4D {
  if (qkv.rank !== 5 || qkv.shape[0] !== 3)
    throw new ShapeError(`multiHeadAttentionStacked: qkv must be [3, B, heads, N, d], found [${qkv.shape.join(', ')}]`, {
      input: 'qkv',
      expected: '[3, B, heads, N, d]',
      found: `[${qkv.shape.join(', ')}]`,
    });
  const [, b, h, n, d] = qkv.shape as [number, number, number, number, number];
  if (tf.getBackend() !== 'wasm') {
    return tf.tidy(() => {
      const [q, k, v] = tf.split(qkv, 3, 0).map((t) => tf.reshape(t, [b, h, n, d]));
      return splitAttention(q!, k!, v!, mask, scale);
    });
  }
  return tf.tidy(() => {
    const bh = b * h;
    const flat = tf.reshape(qkv, [3 * bh, n * d]);
    const row = (i: number) => tf.reshape(gatherRow(flat, i), [n, d]);
    const masks = mask && mask.rank > 2 ? unstackRows(tf.reshape(tf.broadcastTo(mask, [b, h, n, n]), [bh, n, n])) : undefined;
    const s = scale ?? 1 / Math.sqrt(d);
    const outs = attendHeads(bh, (i) => [row(i), tf.transpose(row(bh + i)), row(2 * bh + i)], s, mask, masks);
    return tf.reshape(outs, [b, h, n, d]) as tf.Tensor4D;
  });
}

/**
 * `softmax(qᵢ kᵢᵀ · scale + mask) vᵢ` for heads `i < count`, one matrix product per head (the wasm path of
 * both functions above). `head(i)` gives `[qᵢ [nq, d], kᵢᵀ [d, nk], vᵢ [nk, dv]]`; tensors it creates are
 * disposed after that head. `masks`, when given, holds one mask per head; otherwise `mask` serves every head.
 * @returns [count, nq, dv]
 */
function attendHeads(
  count: number,
  head: (i: number) => [q: tf.Tensor, kT: tf.Tensor, v: tf.Tensor],
  scale: number,
  mask?: tf.Tensor,
  masks?: tf.Tensor[],
): tf.Tensor {
  const outs = Array.from({ length: count }, (_, i) =>
    tf.tidy(() => {
      const [q, kT, v] = head(i);
      let logits = tf.mul(matMulFast(q as tf.Tensor2D, kT as tf.Tensor2D), scale);
      if (mask) logits = tf.add(logits, masks ? masks[i]! : mask);
      return matMulFast(tf.softmax(logits) as tf.Tensor2D, v as tf.Tensor2D);
    }),
  );
  return stackFirst(outs);
}
