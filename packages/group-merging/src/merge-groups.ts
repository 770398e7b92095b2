import * as tf from '@tensorflow/tfjs-core';
import { bipartiteSoftMatching, mergeWeightedAverage, type BipartiteMatching } from './bipartite-soft-matching';

/** Result of {@link mergeGroupTokens}. */
export interface MergedGroups {
  /** [B, K_out, D] size-weighted means of the merged tokens. */
  groupTokens: tf.Tensor3D;
  /** [B, K_out, 1] sizes (how many initial group tokens each token stands for). */
  sizes: tf.Tensor3D;
  /** The ToMe decisions of each round (one unless more than half the tokens had to go). */
  matchings: BipartiteMatching[];
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
  if (groupTokens.rank !== 3) throw new Error(`mergeGroupTokens groupTokens: expected shape [B, K, D], found [${groupTokens.shape.join(', ')}]`);
  if (!Number.isInteger(targetCount) || targetCount < 1 || targetCount > kIn) {
    throw new Error(`mergeGroupTokens targetCount: expected an integer in [1, ${kIn}], found ${targetCount}`);
  }
  const matchings: BipartiteMatching[] = [];
  let x = tf.clone(groupTokens) as tf.Tensor3D;
  let s = tf.clone(sizes) as tf.Tensor3D;
  while (x.shape[1]! > targetCount) {
    const k = x.shape[1]!;
    const r = Math.min(k - targetCount, Math.floor(k / 2));
    const m = bipartiteSoftMatching(x, r);
    const merged = mergeWeightedAverage(m, x, s);
    x.dispose();
    s.dispose();
    x = merged.x;
    s = merged.size;
    matchings.push(m);
  }
  return { groupTokens: x, sizes: s, matchings };
}
