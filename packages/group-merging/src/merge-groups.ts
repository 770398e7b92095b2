import * as tf from '@tensorflow/tfjs-core';
import { bipartiteSoftMatching, mergeWeightedAverage } from './bipartite-soft-matching';
import { ConfigError, ShapeError } from '@hgm/tensor';

/** Result of {@link mergeGroupTokens}. */
export interface MergedGroups {
  /** [B, K_out, D] size-weighted means of the merged tokens. */
  groupTokens: tf.Tensor3D;
  /** [B, K_out, 1] sizes (how many initial group tokens each token stands for). */
  sizes: tf.Tensor3D;
  /** [B, K_out, K_in] 0/1: which input group tokens form each output token (all rounds composed). */
  membership: tf.Tensor3D;
  /** ToMe rounds used (1 unless more than half the tokens had to go; 0 when K_out = K_in). */
  rounds: number;
}

/**
 * Merges group tokens from K_in to `targetCount` with ToMe bipartite soft matching (parameter free):
 * alternating A (even) / B (odd) split, cosine similarity on the tokens themselves, every a picks its best
 * b, the r = K_in - K_out best pairs merge by the size-weighted mean, unmerged tokens stay, sizes add up.
 * One ToMe step removes at most floor(K / 2) tokens; larger reductions run further rounds on the result.
 *
 * @param groupTokens [B, K_in, D]
 * @param sizes [B, K_in, 1] token sizes (ones for fresh tokens)
 * @param targetCount K_out, 1 <= K_out <= K_in
 */
export function mergeGroupTokens(groupTokens: tf.Tensor, sizes: tf.Tensor, targetCount: number): MergedGroups {
  const kIn = groupTokens.shape[1]!;
  if (groupTokens.rank !== 3) throw new ShapeError(`mergeGroupTokens groupTokens: expected shape [B, K, D], found [${groupTokens.shape.join(', ')}]`);
  if (!Number.isInteger(targetCount) || targetCount < 1 || targetCount > kIn) {
    throw new ConfigError(`mergeGroupTokens targetCount: expected an integer in [1, ${kIn}], found ${targetCount}`);
  }
  let rounds = 0;
  let x = tf.clone(groupTokens) as tf.Tensor3D;
  let s = tf.clone(sizes) as tf.Tensor3D;
  let membership = tf.tidy(() => tf.tile(tf.expandDims(tf.eye(kIn), 0), [groupTokens.shape[0]!, 1, 1])) as tf.Tensor3D;
  while (x.shape[1]! > targetCount) {
    const k = x.shape[1]!;
    const r = Math.min(k - targetCount, Math.floor(k / 2));
    const m = bipartiteSoftMatching(x, r);
    const merged = mergeWeightedAverage(m, x, s);
    const composed = tf.matMul(m.membership, membership) as tf.Tensor3D;
    tf.dispose([x, s, membership]);
    m.dispose();
    x = merged.x;
    s = merged.size;
    membership = composed;
    rounds++;
  }
  return { groupTokens: x, sizes: s, membership, rounds };
}
