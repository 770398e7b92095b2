import * as tf from '@tensorflow/tfjs-core';
import { bceWithLogitsElementwise } from './bce-with-logits';
import { checkFloat, checkNumber, checkSameShape, withDefaults } from './checks';
import { checkReduction, reduceLoss, type Reduction } from './reduction';

export interface SigmoidFocalLossConfig {
  /** Weight of the positive class, 1 - alpha for the negatives; a negative value turns weighting off. */
  alpha: number;
  /** Focusing exponent. */
  gamma: number;
  reduction: Reduction;
}

/** torchvision's defaults (alpha 0.25, gamma 2), with 'mean' (torchvision's default is 'none'). */
export const DEFAULT_SIGMOID_FOCAL_LOSS_CONFIG: Readonly<SigmoidFocalLossConfig> = Object.freeze({
  alpha: 0.25,
  gamma: 2,
  reduction: 'mean' as Reduction,
});

/** Fills the defaults and validates a sigmoid-focal-loss config. */
export function resolveSigmoidFocalLossConfig(partial: Partial<SigmoidFocalLossConfig> = {}): SigmoidFocalLossConfig {
  const where = 'sigmoid focal loss config';
  const c = withDefaults(where, DEFAULT_SIGMOID_FOCAL_LOSS_CONFIG, partial);
  checkNumber(where, 'alpha', c.alpha, { max: 1 });
  checkNumber(where, 'gamma', c.gamma, { min: 0 });
  checkReduction(where, c.reduction);
  return c;
}

/**
 * Sigmoid focal loss (Lin et al., 2017), as torchvision's `ops.sigmoid_focal_loss`:
 *
 *   p = sigmoid(x), ce = BCEWithLogits(x, t), p_t = p t + (1 - p)(1 - t)
 *   loss = alpha_t ce (1 - p_t)^gamma, alpha_t = alpha t + (1 - alpha)(1 - t)  (when alpha >= 0)
 *
 * @param logits [...] any shape
 * @param targets [...] the same shape, in [0, 1]
 * @returns [] the reduced loss, or [...] with reduction 'none'
 */
export function sigmoidFocalLoss(logits: tf.Tensor, targets: tf.Tensor, config: Partial<SigmoidFocalLossConfig> = {}): tf.Tensor {
  const c = resolveSigmoidFocalLossConfig(config);
  checkFloat('sigmoidFocalLoss', 'logits', logits);
  checkSameShape('sigmoidFocalLoss', 'logits', logits.shape, 'targets', targets.shape);
  return tf.tidy(() => {
    const t = tf.cast(targets, 'float32');
    const p = tf.sigmoid(logits);
    const ce = bceWithLogitsElementwise(logits, t);
    const pt = tf.add(tf.mul(p, t), tf.mul(tf.sub(1, p), tf.sub(1, t)));
    let loss = tf.mul(ce, tf.pow(tf.sub(1, pt), c.gamma));
    if (c.alpha >= 0) loss = tf.mul(tf.add(tf.mul(t, c.alpha), tf.mul(tf.sub(1, t), 1 - c.alpha)), loss);
    return reduceLoss(loss, c.reduction);
  });
}
