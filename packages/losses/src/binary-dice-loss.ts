import * as tf from '@tensorflow/tfjs-core';
import { checkFloat, checkMinRank, checkNumber, checkSameShape, withDefaults } from './checks';

export interface BinaryDiceLossConfig {
  /** Added to the numerator and the denominator of each image's Dice coefficient. AnomalyCLIP: 1. */
  smooth: number;
}

export const DEFAULT_BINARY_DICE_LOSS_CONFIG: Readonly<BinaryDiceLossConfig> = Object.freeze({ smooth: 1 });

/** Fills the defaults and validates a Dice-loss config. */
export function resolveBinaryDiceLossConfig(partial: Partial<BinaryDiceLossConfig> = {}): BinaryDiceLossConfig {
  const where = 'binary Dice loss config';
  const c = withDefaults(where, DEFAULT_BINARY_DICE_LOSS_CONFIG, partial);
  checkNumber(where, 'smooth', c.smooth, { min: 0 });
  return c;
}

/**
 * Soft binary Dice loss, as AnomalyCLIP's `BinaryDiceLoss` (loss.py): per image b (first axis),
 *
 *   dice_b = (2 sum(x_b * t_b) + smooth) / (sum(x_b) + sum(t_b) + smooth)
 *
 * and loss = 1 - mean_b dice_b. With smooth = 1, an empty target and an all-zero prediction give dice 1
 * (loss 0), so a normal image is not penalised for predicting nothing.
 *
 * @param input [B, ...] soft predictions in [0, 1] (e.g. the anomaly channel [B, H, W])
 * @param target [B, ...] the same shape, 0/1 (soft targets are used as they are)
 * @returns [] scalar loss
 */
export function binaryDiceLoss(input: tf.Tensor, target: tf.Tensor, config: Partial<BinaryDiceLossConfig> = {}): tf.Scalar {
  const c = resolveBinaryDiceLossConfig(config);
  const name = 'binaryDiceLoss';
  checkFloat(name, 'input', input);
  checkMinRank(name, 'input', input, 1, '[B, ...]');
  checkSameShape(name, 'input', input.shape, 'target', target.shape);
  return tf.tidy(() => {
    const batch = input.shape[0]!;
    const x = tf.reshape(input, [batch, -1]);
    const t = tf.reshape(tf.cast(target, 'float32'), [batch, -1]);
    const intersection = tf.sum(tf.mul(x, t), 1);
    const dice = tf.div(tf.add(tf.mul(intersection, 2), c.smooth), tf.add(tf.add(tf.sum(x, 1), tf.sum(t, 1)), c.smooth));
    return tf.sub(1, tf.div(tf.sum(dice), batch)) as tf.Scalar;
  });
}
