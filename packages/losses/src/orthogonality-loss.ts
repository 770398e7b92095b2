import * as tf from '@tensorflow/tfjs-core';
import { checkFloat, checkNumber, checkRank, checkSameShape, withDefaults } from './checks';
import { cosineSimilarity } from './unit-normalize';

export interface OrthogonalityLossConfig {
  /** Norm floor of the unit normalisation (torch F.normalize's default). */
  eps: number;
}

export const DEFAULT_ORTHOGONALITY_LOSS_CONFIG: Readonly<OrthogonalityLossConfig> = Object.freeze({ eps: 1e-12 });

/** Fills the defaults and validates an orthogonality-loss config. */
export function resolveOrthogonalityLossConfig(partial: Partial<OrthogonalityLossConfig> = {}): OrthogonalityLossConfig {
  const c = withDefaults('orthogonality loss config', DEFAULT_ORTHOGONALITY_LOSS_CONFIG, partial);
  checkNumber('orthogonality loss config', 'eps', c.eps, { min: 0, minExclusive: true });
  return c;
}

/**
 * Orthogonality loss between the two image anchors (method step 6): |<G_N, G_A>|^2 on unit-normalised
 * tokens, i.e. the squared cosine similarity, averaged over the batch. 0 when the anchors are orthogonal,
 * 1 when they are parallel or anti-parallel; it does not depend on the tokens' norms. Normalising first is
 * the method's documented choice (the paper does not say whether the raw tokens are used).
 *
 * @param normalAnchor [B, D] G_N, the final group token with index 0
 * @param anomalyAnchor [B, D] G_A, the final group token with index 1
 * @returns [] mean over B of cos(G_N, G_A)^2
 */
export function orthogonalityLoss(normalAnchor: tf.Tensor, anomalyAnchor: tf.Tensor, config: Partial<OrthogonalityLossConfig> = {}): tf.Scalar {
  const c = resolveOrthogonalityLossConfig(config);
  const name = 'orthogonalityLoss';
  checkFloat(name, 'normalAnchor', normalAnchor);
  checkFloat(name, 'anomalyAnchor', anomalyAnchor);
  checkRank(name, 'normalAnchor', normalAnchor, 2, '[B, D]');
  checkSameShape(name, 'normalAnchor', normalAnchor.shape, 'anomalyAnchor', anomalyAnchor.shape);
  return tf.tidy(() => tf.mean(tf.square(cosineSimilarity(normalAnchor, anomalyAnchor, c.eps))) as tf.Scalar);
}
