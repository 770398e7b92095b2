import * as tf from '@tensorflow/tfjs-core';

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
 * The decisions of one ToMe bipartite soft matching step over T_in tokens, for a batch of B.
 * Index arrays are flat row-major host arrays (they are discrete decisions, not differentiable).
 */
export interface BipartiteMatching {
  /** Tokens entering the merge. */
  readonly tokensIn: number;
  /** Tokens after the merge, T_in - r. */
  readonly tokensOut: number;
  /** Merged pairs (after clamping to floor((T_in - protected) / 2)); 0 means the merge is the identity. */
  readonly r: number;
  readonly batch: number;
  /** [B, T_a - r] indices into the even half `x[:, 0::2]` of the tokens that stay unmerged, in output order. */
  readonly unmergedIndices: Int32Array;
  /** [B, r] indices into the even half of the tokens merged away (best pairs first). */
  readonly srcIndices: Int32Array;
  /** [B, r] indices into the odd half `x[:, 1::2]` of the token each merged token goes to. */
  readonly dstIndices: Int32Array;
  /**
   * Which input tokens form each output token: `members[b][o]` lists input token indices (0..T_in-1);
   * the output order is ToMe's `[unmerged even tokens, odd tokens]` (with a distillation token: `[unm[0],
   * dst[0], unm[1:], dst[1:]]`).
   */
  readonly members: readonly (readonly number[][])[];
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
}

/**
 * ToMe bipartite soft matching (parameter free). The tokens are split into alternating sets A (even
 * positions) and B (odd positions); with cosine similarity `S = norm(A) norm(B)^T`, every a in A picks
 * its most similar b; the r pairs with the highest scores are merged (the a goes into its b), the other
 * a's stay. `r` is clamped to `floor((T - protected) / 2)`; r <= 0 gives the identity.
 *
 * The scores are read back to the host to take the discrete decisions (argmax and sort), so this call
 * synchronises with the backend.
 *
 * @param metric [B, T, C] the similarity features (ToMe uses the attention keys; HGM the tokens)
 * @param r number of tokens to remove
 */
export function bipartiteSoftMatching(metric: tf.Tensor, r: number, options: BipartiteMatchingOptions = {}): BipartiteMatching {
  if (metric.rank !== 3) throw new Error(`bipartiteSoftMatching metric: expected shape [B, T, C], found [${metric.shape.join(', ')}]`);
  if (!Number.isInteger(r) || r < 0) throw new Error(`bipartiteSoftMatching r: expected a non-negative integer, found ${r}`);
  const [batch, tokens] = metric.shape as [number, number, number];
  const classToken = options.classToken ?? false;
  const distillToken = options.distillToken ?? false;
  const protectedCount = (classToken ? 1 : 0) + (distillToken ? 1 : 0);
  const rr = Math.max(0, Math.min(r, Math.floor((tokens - protectedCount) / 2)));
  const ta = Math.ceil(tokens / 2);
  const tb = Math.floor(tokens / 2);

  const unm = new Int32Array(batch * (ta - rr));
  const src = new Int32Array(batch * rr);
  const dst = new Int32Array(batch * rr);
  const members: number[][][] = [];

  if (rr === 0) {
    for (let b = 0; b < batch; b++) {
      members.push(Array.from({ length: tokens }, (_, t) => [t]));
      for (let i = 0; i < ta; i++) unm[b * ta + i] = i;
    }
  } else {
    const scores = tf.tidy(() => {
      const n = tf.div(metric, tf.norm(metric, 'euclidean', -1, true));
      const a = tf.gather(n, range(0, tokens, 2), 1);
      const bb = tf.gather(n, range(1, tokens, 2), 1);
      return tf.matMul(a, bb, false, true);
    });
    const s = scores.dataSync() as Float32Array;
    scores.dispose();
    for (let b = 0; b < batch; b++) {
      const nodeMax = new Float64Array(ta);
      const nodeIdx = new Int32Array(ta);
      for (let i = 0; i < ta; i++) {
        let best = -Infinity;
        let arg = 0;
        for (let j = 0; j < tb; j++) {
          let v = s[(b * ta + i) * tb + j]!;
          if (classToken && i === 0) v = -Infinity;
          if (distillToken && j === 0) v = -Infinity;
          if (v > best) {
            best = v;
            arg = j;
          }
        }
        nodeMax[i] = best;
        nodeIdx[i] = arg;
      }
      const order = Array.from({ length: ta }, (_, i) => i).sort((x, y) => (nodeMax[y]! - nodeMax[x]! || x - y));
      const unmerged = order.slice(rr);
      if (classToken) unmerged.sort((x, y) => x - y);
      for (let i = 0; i < rr; i++) {
        src[b * rr + i] = order[i]!;
        dst[b * rr + i] = nodeIdx[order[i]!]!;
      }
      unmerged.forEach((v, i) => (unm[b * (ta - rr) + i] = v));
      const unmGroups = unmerged.map((i) => [2 * i]);
      const dstGroups = Array.from({ length: tb }, (_, j) => [2 * j + 1]);
      for (let i = 0; i < rr; i++) dstGroups[dst[b * rr + i]!]!.push(2 * src[b * rr + i]!);
      members.push(
        distillToken
          ? [unmGroups[0]!, dstGroups[0]!, ...unmGroups.slice(1), ...dstGroups.slice(1)]
          : [...unmGroups, ...dstGroups],
      );
    }
  }
  return makeMatching(batch, tokens, rr, unm, src, dst, members);
}

function range(start: number, end: number, step: number): number[] {
  const out: number[] = [];
  for (let i = start; i < end; i += step) out.push(i);
  return out;
}

function makeMatching(
  batch: number,
  tokensIn: number,
  r: number,
  unmergedIndices: Int32Array,
  srcIndices: Int32Array,
  dstIndices: Int32Array,
  members: number[][][],
): BipartiteMatching {
  const tokensOut = tokensIn - r;
  // Membership matrix [B, T_out, T_in] (0/1), built once on the host.
  const membership = new Float32Array(batch * tokensOut * tokensIn);
  let maxMembers = 1;
  for (let b = 0; b < batch; b++) {
    members[b]!.forEach((group, o) => {
      maxMembers = Math.max(maxMembers, group.length);
      for (const t of group) membership[(b * tokensOut + o) * tokensIn + t] = 1;
    });
  }
  const checkInput = (label: string, x: tf.Tensor, t: number): void => {
    if (x.rank !== 3 || x.shape[0] !== batch || x.shape[1] !== t) {
      throw new Error(`${label}: expected shape [${batch}, ${t}, C], found [${x.shape.join(', ')}]`);
    }
  };
  return {
    tokensIn,
    tokensOut,
    r,
    batch,
    unmergedIndices,
    srcIndices,
    dstIndices,
    members,
    merge(x: tf.Tensor, mode: MergeMode): tf.Tensor3D {
      checkInput('merge input', x, tokensIn);
      return tf.tidy(() => {
        if (r === 0) return tf.clone(x) as tf.Tensor3D;
        const m = tf.tensor3d(membership, [batch, tokensOut, tokensIn]);
        if (mode === 'sum') return tf.matMul(m, x) as tf.Tensor3D;
        if (mode === 'mean') return tf.div(tf.matMul(m, x), tf.sum(m, -1, true)) as tf.Tensor3D;
        // amax: mask non-members with -inf, then the maximum over the input-token axis.
        const c = x.shape[2]!;
        const mask = tf.broadcastTo(tf.greater(tf.expandDims(m, -1), 0), [batch, tokensOut, tokensIn, c]);
        const xs = tf.broadcastTo(tf.expandDims(x, 1), [batch, tokensOut, tokensIn, c]);
        return tf.max(tf.where(mask, xs, tf.fill([batch, tokensOut, tokensIn, c], -Infinity)), 2) as tf.Tensor3D;
      });
    },
    unmerge(x: tf.Tensor): tf.Tensor3D {
      checkInput('unmerge input', x, tokensOut);
      return tf.tidy(() => {
        if (r === 0) return tf.clone(x) as tf.Tensor3D;
        const m = tf.tensor3d(membership, [batch, tokensOut, tokensIn]);
        return tf.matMul(m, x, true, false) as tf.Tensor3D;
      });
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
    throw new Error(`mergeWeightedAverage size: expected shape [${x.shape[0]}, ${x.shape[1]}, 1], found [${size.shape.join(', ')}]`);
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
