import * as tf from '@tensorflow/tfjs-core';
import { checkFloat, checkSameShape, withDefaults } from './checks';
import { checkReduction, reduceLoss, type Reduction } from './reduction';

export interface BceWithLogitsConfig {
  reduction: Reduction;
}

export const DEFAULT_BCE_WITH_LOGITS_CONFIG: Readonly<BceWithLogitsConfig> = Object.freeze({ reduction: 'mean' as Reduction });

/** Fills the defaults and validates a BCE-with-logits config. */
export function resolveBceWithLogitsConfig(partial: Partial<BceWithLogitsConfig> = {}): BceWithLogitsConfig {
  const c = withDefaults('BCE-with-logits config', DEFAULT_BCE_WITH_LOGITS_CONFIG, partial);
  checkReduction('BCE-with-logits config', c.reduction);
  return c;
}

/**
 * Element-wise binary cross-entropy on logits, unreduced (to be called inside a `tf.tidy`):
 * (1 - t) x + softplus(-x), which equals -[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))] without
 * overflow for large |x|, and whose gradient is exactly sigmoid(x) - t.
 */
export function bceWithLogitsElementwise(logits: tf.Tensor, targets: tf.Tensor): tf.Tensor {
  return tf.add(tf.mul(tf.sub(1, targets), logits), tf.softplus(tf.neg(logits)));
}

/**
 * Binary cross-entropy on logits, as torch's `F.binary_cross_entropy_with_logits(x, t)` (mean by default).
 *
 * @param logits [...] any shape
 * @param targets [...] the same shape, in [0, 1]
 * @returns [] the reduced loss, or [...] with reduction 'none'
 */
export function bceWithLogits(logits: tf.Tensor, targets: tf.Tensor, config: Partial<BceWithLogitsConfig> = {}): tf.Tensor {
  const c = resolveBceWithLogitsConfig(config);
  checkFloat('bceWithLogits', 'logits', logits);
  checkSameShape('bceWithLogits', 'logits', logits.shape, 'targets', targets.shape);
  return tf.tidy(() => reduceLoss(bceWithLogitsElementwise(logits, tf.cast(targets, 'float32')), c.reduction));
}
