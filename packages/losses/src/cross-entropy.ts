import * as tf from '@tensorflow/tfjs-core';
import { checkFloat, checkRank, withDefaults } from './checks';
import { checkReduction, reduceLoss, type Reduction } from './reduction';
import { ShapeError } from '@hgm/tensor';

export interface CrossEntropyConfig {
  reduction: Reduction;
}

export const DEFAULT_CROSS_ENTROPY_CONFIG: Readonly<CrossEntropyConfig> = Object.freeze({ reduction: 'mean' as Reduction });

/** Fills the defaults and validates a cross-entropy config. */
export function resolveCrossEntropyConfig(partial: Partial<CrossEntropyConfig> = {}): CrossEntropyConfig {
  const c = withDefaults('cross-entropy config', DEFAULT_CROSS_ENTROPY_CONFIG, partial);
  checkReduction('cross-entropy config', c.reduction);
  return c;
}

/**
 * Softmax cross-entropy on logits with integer labels, as torch's `F.cross_entropy(logits, labels)`:
 * loss_i = -log_softmax(logits_i)[labels_i], then the mean. It is the image loss of AnomalyCLIP's train.py
 * (the logits there are cos(image, text) / 0.07) and the method's BCE(p_cls, y) over the two classes
 * {normal, anomalous}. Labels outside [0, C) contribute 0 (torch would raise).
 *
 * @param logits [N, C]
 * @param labels [N] class indices (int32, or float holding integers)
 * @returns [] the reduced loss, or [N] with reduction 'none'
 */
export function crossEntropy(logits: tf.Tensor, labels: tf.Tensor, config: Partial<CrossEntropyConfig> = {}): tf.Tensor {
  const c = resolveCrossEntropyConfig(config);
  const name = 'crossEntropy';
  checkFloat(name, 'logits', logits);
  checkRank(name, 'logits', logits, 2, '[N, C]');
  checkRank(name, 'labels', labels, 1, '[N]');
  if (labels.shape[0] !== logits.shape[0]) {
    throw new ShapeError(`${name}: labels has ${labels.shape[0]} entries, expected one per row of logits (${logits.shape[0]})`);
  }
  return tf.tidy(() => {
    // int32 one-hot then a cast: the wasm backend returns zeros for a float32 oneHot (tfjs 4.22).
    const onehot = tf.cast(tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1]!), 'float32');
    const perRow = tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1));
    return reduceLoss(perRow, c.reduction);
  });
}
