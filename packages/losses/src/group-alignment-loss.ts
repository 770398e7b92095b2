import * as tf from '@tensorflow/tfjs-core';
import { checkFloat, checkNumber, checkRank, checkSameShape, withDefaults } from './checks';
import { cosineSimilarity } from './unit-normalize';

export interface GroupAlignmentLossConfig {
  /** Norm floor of the cosine similarities (torch F.normalize's default). */
  eps: number;
}

export const DEFAULT_GROUP_ALIGNMENT_LOSS_CONFIG: Readonly<GroupAlignmentLossConfig> = Object.freeze({ eps: 1e-12 });

/** Fills the defaults and validates a group-alignment config. */
export function resolveGroupAlignmentLossConfig(partial: Partial<GroupAlignmentLossConfig> = {}): GroupAlignmentLossConfig {
  const c = withDefaults('group alignment loss config', DEFAULT_GROUP_ALIGNMENT_LOSS_CONFIG, partial);
  checkNumber('group alignment loss config', 'eps', c.eps, { min: 0, minExclusive: true });
  return c;
}

/** Inputs of the group-alignment loss. */
export interface GroupAlignmentInputs {
  /** [B, D] G_N, the final group token with index 0. */
  normalAnchor: tf.Tensor;
  /** [B, D] G_A, the final group token with index 1. */
  anomalyAnchor: tf.Tensor;
  /** [B, M, D] patch features (the method's choice: projected tokens of the last tapped layer). */
  patchFeatures: tf.Tensor;
  /**
   * [B, M] per-patch anomaly weight in [0, 1] (the ground-truth mask on the patch grid, from
   * `maskToPatchGrid`: 0/1 with 'max', or the anomalous area fraction with 'area').
   */
  patchMask: tf.Tensor;
}

/**
 * Group-alignment loss of the method (step 6): pulls the normal anchor towards the mean normal patch
 * feature and the anomaly anchor towards the mean anomalous one,
 *
 *   Z_N = sum_m (1 - w_m) F_m / sum_m (1 - w_m),   Z_A = sum_m w_m F_m / sum_m w_m
 *   loss_b = 1 - (cos(G_N, Z_N) + cos(G_A, Z_A)) / 2
 *
 * with w the patch mask (soft weights allowed: a weighted mean). Averaging when a term is missing (a
 * choice; the paper only says the Z_A term is left out for a normal image): each image averages the terms
 * it HAS, so a normal image gives loss_b = 1 - cos(G_N, Z_N) and stays on the same [0, 2] scale, with the
 * same optimum 0, as an anomalous one (not 1 - cos/2, whose minimum would be 0.5). The same rule drops
 * the Z_N term for an image with no normal patch at all. The loss is the mean of loss_b over the batch.
 *
 * @returns [] mean over B of loss_b; in [0, 2], 0 when each anchor points along its mean
 */
export function groupAlignmentLoss(inputs: GroupAlignmentInputs, config: Partial<GroupAlignmentLossConfig> = {}): tf.Scalar {
  const c = resolveGroupAlignmentLossConfig(config);
  const name = 'groupAlignmentLoss';
  const { normalAnchor, anomalyAnchor, patchFeatures, patchMask } = inputs;
  checkFloat(name, 'normalAnchor', normalAnchor);
  checkFloat(name, 'anomalyAnchor', anomalyAnchor);
  checkFloat(name, 'patchFeatures', patchFeatures);
  checkRank(name, 'normalAnchor', normalAnchor, 2, '[B, D]');
  checkSameShape(name, 'normalAnchor', normalAnchor.shape, 'anomalyAnchor', anomalyAnchor.shape);
  checkRank(name, 'patchFeatures', patchFeatures, 3, '[B, M, D]');
  const [batch, patches, dim] = patchFeatures.shape as [number, number, number];
  checkSameShape(name, 'normalAnchor', normalAnchor.shape, 'patchFeatures[:, 0, :]', [batch, dim]);
  checkSameShape(name, 'patchFeatures[:, :, 0]', [batch, patches], 'patchMask', patchMask.shape);
  return tf.tidy(() => {
    const anomalyWeight = tf.cast(patchMask, 'float32'); // [B, M]
    const normalWeight = tf.sub(1, anomalyWeight);
    const weightedMean = (w: tf.Tensor) => {
      const mass = tf.sum(w, 1, true); // [B, 1]
      const sum = tf.squeeze(tf.matMul(tf.expandDims(w, 1), patchFeatures), [1]); // [B, D]
      return { mean: tf.div(sum, tf.maximum(mass, c.eps)), present: tf.cast(tf.greater(tf.reshape(mass, [batch]), 0), 'float32') };
    };
    const normal = weightedMean(normalWeight);
    const anomaly = weightedMean(anomalyWeight);
    const cosNormal = cosineSimilarity(normalAnchor, normal.mean, c.eps); // [B]
    const cosAnomaly = cosineSimilarity(anomalyAnchor, anomaly.mean, c.eps);
    const terms = tf.add(normal.present, anomaly.present); // >= 1 since the weights sum to 1 per patch
    const meanCos = tf.div(tf.add(tf.mul(normal.present, cosNormal), tf.mul(anomaly.present, cosAnomaly)), tf.maximum(terms, 1));
    return tf.mean(tf.sub(1, meanCos)) as tf.Scalar;
  });
}
