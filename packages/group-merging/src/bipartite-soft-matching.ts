import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@hgm/tensor';

/** How {@link BipartiteMatching.merge} combines the tokens of one merged group. */
export type MergeMode = 'sum' | 'mean' | 'amax';

/** Options of {@link bipartiteSoftMatching}. */
export interface BipartiteMatchingOptions {
  /** Token 0 is a class token: it is never merged and stays first. Default false. */
  classToken?: boolean;
  /** Token 1 is a distillation token (DeiT): never a merge target; kept second. Default false. */
  distillToken?: boolean;
}

/**
 * The decisions of one ToMe bipartite soft matching step over T_in tokens, for a batch of B. All
 * decisions stay on the device as int32 / 0-1 tensors (no synchronous read-back); call
 * {@link BipartiteMatching.dispose} when done.
 */
export interface BipartiteMatching {
  /** Tokens entering the merge. */
  readonly tokensIn: number;
  /** Tokens after the merge, T_in - r. */
  readonly tokensOut: number;
  /** Merged pairs (after clamping to floor((T_in - protected) / 2)); 0 means the merge is the identity. */
  readonly r: number;
  readonly batch: number;
  /** [B, T_a - r] int32 indices into the even half `x[:, 0::2]` of the tokens that stay unmerged, in output order. */
  readonly unmergedIndices: tf.Tensor2D;
  /** [B, r] int32 indices into the even half of the tokens merged away (best pairs first). */
  readonly srcIndices: tf.Tensor2D;
  /** [B, r] int32 indices into the odd half `x[:, 1::2]` of the token each merged token goes to. */
  readonly dstIndices: tf.Tensor2D;
  /**
   * [B, T_out, T_in] 0/1: which input tokens form each output token. The output order is ToMe's
   * `[unmerged even tokens, odd tokens]` (with a distillation token: `[unm[0], dst[0], unm[1:], dst[1:]]`).
   * Every column holds exactly one 1.
   */
  readonly membership: tf.Tensor3D;
  /**
   * Merges a token tensor with these decisions (differentiable in `x`).
   * @param x [B, T_in, C]
   * @returns [B, T_in - r, C]
   */
  merge(x: tf.Tensor, mode: MergeMode): tf.Tensor3D;
  /**
   * Sends merged tokens back to the positions they came from (every member gets its group's value).
   * @param x [B, T_in - r, C]
   * @returns [B, T_in, C]
   */
  unmerge(x: tf.Tensor): tf.Tensor3D;
  /** Disposes the decision tensors. */
  dispose(): void;
}

/**
 * ToMe bipartite soft matching (parameter free). The tokens are split into alternating sets A (even
 * positions) and B (odd positions); with cosine similarity `S = norm(A) norm(B)^T`, every a in A picks
 * its most similar b; the r pairs with the highest scores are merged (the a goes into its b), the other
 * a's stay. `r` is clamped to `floor((T - protected) / 2)`; r <= 0 gives the identity. The decisions
 * (argmax, sort by score) are taken on the device; ties go to the lower index.
 *
 * @param metric [B, T, C] the similarity features (ToMe uses the attention keys; HGM the tokens)
 * @param r number of tokens to remove
 */
export function bipartiteSoftMatching(metric: tf.Tensor, r: number, options: BipartiteMatchingOptions = {}): BipartiteMatching {
  if (metric.rank !== 3) throw new ShapeError(`bipartiteSoftMatching metric: expected shape [B, T, C], found [${metric.shape.join(', ')}]`);
  if (!Number.isInteger(r) || r < 0) throw new ConfigError(`bipartiteSoftMatching r: expected a non-negative integer, found ${r}`);
  const [batch, tokens] = metric.shape as [number, number, number];
  const classToken = options.classToken ?? false;
  const distillToken = options.distillToken ?? false;
  const protectedCount = (classToken ? 1 : 0) + (distillToken ? 1 : 0);
  const rr = Math.max(0, Math.min(r, Math.floor((tokens - protectedCount) / 2)));
  const ta = Math.ceil(tokens / 2);
  const tb = Math.floor(tokens / 2);
  const tokensOut = tokens - rr;

  const decide = (): { unm: tf.Tensor; src: tf.Tensor; dst: tf.Tensor; membership: tf.Tensor } => {
    if (rr === 0) {
      const unm = tf.tile(tf.expandDims(tf.range(0, ta, 1, 'int32'), 0), [batch, 1]);
      const none = tf.zeros([batch, 0], 'int32');
      return { unm, src: none, dst: tf.clone(none), membership: tf.tile(tf.expandDims(tf.eye(tokens), 0), [batch, 1, 1]) };
    }
    const n = tf.div(metric, tf.norm(metric, 'euclidean', -1, true));
    const a = tf.gather(n, range(0, tokens, 2), 1);
    const bb = tf.gather(n, range(1, tokens, 2), 1);
    let scores = tf.matMul(a, bb, false, true); // [B, Ta, Tb]
    if (classToken || distillToken) {
      const mask = new Float32Array(ta * tb);
      for (let i = 0; i < ta; i++) for (let j = 0; j < tb; j++) if ((classToken && i === 0) || (distillToken && j === 0)) mask[i * tb + j] = -Infinity;
      scores = tf.add(scores, tf.tensor2d(mask, [ta, tb]));
    }
    const nodeMax = tf.max(scores, -1); // [B, Ta]
    const nodeIdx = tf.argMax(scores, -1); // [B, Ta] int32
    const order = tf.topk(nodeMax, ta, true).indices; // descending score
    const src = tf.slice(order, [0, 0], [batch, rr]);
    let unm = tf.slice(order, [0, rr], [batch, ta - rr]);
    if (classToken) unm = sortAscending(unm);
    // dst[b, i] = nodeIdx[b, src[b, i]], gathered from the flattened [B * Ta] array.
    const offsets = tf.mul(tf.range(0, batch, 1, 'int32'), tf.scalar(ta, 'int32'));
    const dst = tf.reshape(tf.gather(tf.reshape(nodeIdx, [-1]), tf.add(src, tf.expandDims(offsets, 1))), [batch, rr]); // [B, r]
    // Membership rows: unmerged even tokens, then odd tokens with the even tokens merged into them.
    const unmRows = oneHotFloat(tf.mul(unm, tf.scalar(2, 'int32')), tokens); // [B, Ta - r, T]
    const oddRows = tf.tile(tf.expandDims(oneHotFloat(tf.range(1, tokens, 2, 'int32'), tokens), 0), [batch, 1, 1]); // [B, Tb, T]
    const srcOneHot = oneHotFloat(tf.mul(src, tf.scalar(2, 'int32')), tokens); // [B, r, T]
    const dstOneHot = oneHotFloat(dst, tb); // [B, r, Tb]
    const dstRows = tf.add(oddRows, tf.matMul(dstOneHot, srcOneHot, true, false)); // [B, Tb, T]
    const membership = distillToken
      ? tf.concat([sliceRows(unmRows, 0, 1), sliceRows(dstRows, 0, 1), sliceRows(unmRows, 1, ta - rr - 1), sliceRows(dstRows, 1, tb - 1)], 1)
      : tf.concat([unmRows, dstRows], 1);
    return { unm, src, dst, membership };
  };
  // ToMe takes its decisions under no_grad. Running them inside a custom-gradient op keeps them off the
  // gradient tape (tfjs records no ops inside a kernel); its gradient with respect to the metric is zero.
  // The decisions are packed into one float tensor (a custom-gradient op has a single output).
  const nU = batch * (ta - rr);
  const nR = batch * rr;
  const nM = batch * tokensOut * tokens;
  const packed = tf.customGrad(((m: tf.Tensor) => {
    const value = tf.tidy(() => {
      const d = decide();
      return tf.concat([d.unm, d.src, d.dst, d.membership].map((t) => tf.reshape(tf.cast(t, 'float32'), [-1])));
    });
    return { value, gradFunc: () => tf.zerosLike(m) };
  }) as unknown as Parameters<typeof tf.customGrad>[0])(metric);
  const decisions = tf.tidy(() => {
    const [u, sIdx, dIdx, mem] = tf.split(packed, [nU, nR, nR, nM]);
    return {
      unm: tf.reshape(tf.cast(u!, 'int32'), [batch, ta - rr]),
      src: tf.reshape(tf.cast(sIdx!, 'int32'), [batch, rr]),
      dst: tf.reshape(tf.cast(dIdx!, 'int32'), [batch, rr]),
      membership: tf.reshape(mem!, [batch, tokensOut, tokens]),
    };
  });
  packed.dispose();
  return makeMatching(batch, tokens, tokensOut, rr, decisions);
}

/** Float32 one-hot rows [..., depth]; also for depth 1, which tf.oneHot rejects. */
function oneHotFloat(indices: tf.Tensor, depth: number): tf.Tensor {
  if (depth === 1) return tf.ones([...indices.shape, 1]);
  return tf.cast(tf.oneHot(indices, depth), 'float32');
}

/** Sorts int32 indices ascending along the last axis. */
function sortAscending(x: tf.Tensor): tf.Tensor {
  const k = x.shape[x.rank - 1]!;
  return tf.neg(tf.cast(tf.topk(tf.neg(tf.cast(x, 'float32')), k, true).values, 'int32'));
}

function sliceRows(x: tf.Tensor, start: number, count: number): tf.Tensor {
  return tf.slice(x, [0, start, 0], [x.shape[0]!, count, x.shape[2]!]);
}

function range(start: number, end: number, step: number): number[] {
  const out: number[] = [];
  for (let i = start; i < end; i += step) out.push(i);
  return out;
}

function makeMatching(
  batch: number,
  tokensIn: number,
  tokensOut: number,
  r: number,
  d: { unm: tf.Tensor; src: tf.Tensor; dst: tf.Tensor; membership: tf.Tensor },
): BipartiteMatching {
  const membership = d.membership as tf.Tensor3D;
  const checkInput = (label: string, x: tf.Tensor, t: number): void => {
    if (x.rank !== 3 || x.shape[0] !== batch || x.shape[1] !== t) {
      throw new ShapeError(`${label}: expected shape [${batch}, ${t}, C], found [${x.shape.join(', ')}]`);
    }
  };
  return {
    tokensIn,
    tokensOut,
    r,
    batch,
    unmergedIndices: d.unm as tf.Tensor2D,
    srcIndices: d.src as tf.Tensor2D,
    dstIndices: d.dst as tf.Tensor2D,
    membership,
    merge(x: tf.Tensor, mode: MergeMode): tf.Tensor3D {
      checkInput('merge input', x, tokensIn);
      return tf.tidy(() => {
        if (r === 0) return tf.clone(x) as tf.Tensor3D;
        if (mode === 'sum') return tf.matMul(membership, x) as tf.Tensor3D;
        if (mode === 'mean') return tf.div(tf.matMul(membership, x), tf.sum(membership, -1, true)) as tf.Tensor3D;
        // amax: mask non-members with -inf, then the maximum over the input-token axis.
        const c = x.shape[2]!;
        const shape = [batch, tokensOut, tokensIn, c];
        const mask = tf.broadcastTo(tf.greater(tf.expandDims(membership, -1), 0), shape);
        const xs = tf.broadcastTo(tf.expandDims(x, 1), shape);
        return tf.max(tf.where(mask, xs, tf.fill(shape, -Infinity)), 2) as tf.Tensor3D;
      });
    },
    unmerge(x: tf.Tensor): tf.Tensor3D {
      checkInput('unmerge input', x, tokensOut);
      return tf.tidy(() => (r === 0 ? tf.clone(x) : tf.matMul(membership, x, true, false)) as tf.Tensor3D);
    },
    dispose(): void {
      tf.dispose([d.unm, d.src, d.dst, d.membership]);
    },
  };
}

/**
 * ToMe's size-weighted average merge (`merge_wavg`): `x' = merge(x * size, sum) / merge(size, sum)`,
 * `size' = merge(size, sum)`.
 * @param x [B, T_in, C]
 * @param size [B, T_in, 1] token sizes (how many original tokens each one stands for); ones when absent
 * @returns x [B, T_out, C] and size [B, T_out, 1]
 */
export function mergeWeightedAverage(matching: BipartiteMatching, x: tf.Tensor, size?: tf.Tensor): { x: tf.Tensor3D; size: tf.Tensor3D } {
  if (size && (size.rank !== 3 || size.shape[0] !== x.shape[0] || size.shape[1] !== x.shape[1] || size.shape[2] !== 1)) {
    throw new ShapeError(`mergeWeightedAverage size: expected shape [${x.shape[0]}, ${x.shape[1]}, 1], found [${size.shape.join(', ')}]`);
  }
  return tf.tidy(() => {
    const s = size ?? tf.ones([x.shape[0]!, x.shape[1]!, 1]);
    const merged = matching.merge(tf.mul(x, s), 'sum');
    const mergedSize = matching.merge(s, 'sum');
    return { x: tf.div(merged, mergedSize) as tf.Tensor3D, size: mergedSize };
  });
}

/**
 * ToMe's `merge_source`: which original tokens each merged token covers (0/1), tracked across merges.
 * @param source [B, T_in, T_0] from an earlier merge, or absent for the identity over T_in tokens
 * @returns [B, T_out, T_0]
 */
export function mergeSource(matching: BipartiteMatching, source?: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => {
    const s = source ?? tf.broadcastTo(tf.expandDims(tf.eye(matching.tokensIn), 0), [matching.batch, matching.tokensIn, matching.tokensIn]);
    return matching.merge(s, 'amax');
  });
}
