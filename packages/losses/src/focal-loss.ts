import * as tf from '@tensorflow/tfjs-core';
import { checkFloat, checkMinRank, checkNumber, checkSameShape, withDefaults } from './checks';
import { checkReduction, reduceLoss, type Reduction } from './reduction';
import { ConfigError, ShapeError } from '@hgm/tensor';

/**
 * Focal loss on probabilities, as AnomalyCLIP's `FocalLoss` (loss.py) computes it with the defaults its
 * train.py uses (`FocalLoss()`: gamma 2, alpha ones, smooth 1e-5, size_average).
 */
export interface FocalLossConfig {
  /** Focusing exponent gamma of (1 - p_t)^gamma. AnomalyCLIP: 2. */
  gamma: number;
  /**
   * AnomalyCLIP's `smooth`: the one-hot target is clamped to [smooth / (C - 1), 1 - smooth] and `smooth`
   * is added to p_t before the log (so log never sees 0). 1e-5 in AnomalyCLIP; 0 turns both off.
   */
  smooth: number;
  /**
   * Per-class weights alpha_c (length C), used as given (AnomalyCLIP's list alpha is normalised to sum 1
   * first; its default, used here, is all ones). `null` means all ones.
   */
  classWeights: readonly number[] | null;
  /** 'mean' over every position (AnomalyCLIP's size_average), 'sum', or 'none' (the per-position losses). */
  reduction: Reduction;
}

export const DEFAULT_FOCAL_LOSS_CONFIG: Readonly<FocalLossConfig> = Object.freeze({
  gamma: 2,
  smooth: 1e-5,
  classWeights: null,
  reduction: 'mean' as Reduction,
});

/** Fills the defaults and validates a focal-loss config. */
export function resolveFocalLossConfig(partial: Partial<FocalLossConfig> = {}): FocalLossConfig {
  const where = 'focal loss config';
  const c = withDefaults(where, DEFAULT_FOCAL_LOSS_CONFIG, partial);
  checkNumber(where, 'gamma', c.gamma, { min: 0 });
  checkNumber(where, 'smooth', c.smooth, { min: 0, max: 0.5, maxExclusive: true });
  if (c.classWeights !== null) {
    if (!Array.isArray(c.classWeights) || c.classWeights.length === 0) {
      throw new ConfigError(`${where}: classWeights must be null or a non-empty array of numbers, found ${JSON.stringify(c.classWeights)}`);
    }
    c.classWeights.forEach((w, i) => checkNumber(where, `classWeights[${i}]`, w, { min: 0 }));
  }
  checkReduction(where, c.reduction);
  return c;
}

/**
 * Focal loss (Lin et al., 2017) on class probabilities, exactly as AnomalyCLIP's `FocalLoss`:
 *
 *   y = clamp(onehot(target), smooth / (C - 1), 1 - smooth)
 *   p_t = sum_c y_c p_c + smooth
 *   loss = -alpha_target (1 - p_t)^gamma log(p_t)
 *
 * then the mean over every position. `probs` are probabilities (softmax already applied), channel-last.
 * Targets are class indices; non-integer values are truncated (as torch's `.long()`), and indices outside
 * [0, C) give an all-`smooth` target row (torch would raise instead): binarise masks before calling.
 *
 * @param probs [..., C] probabilities over C >= 2 classes (e.g. [B, H, W, 2] for an anomaly map)
 * @param target [...] class indices (float or int), the shape of `probs` without its last axis
 * @returns [] the reduced loss, or [...] with reduction 'none'
 */
export function focalLoss(probs: tf.Tensor, target: tf.Tensor, config: Partial<FocalLossConfig> = {}): tf.Tensor {
  const c = resolveFocalLossConfig(config);
  const name = 'focalLoss';
  checkFloat(name, 'probs', probs);
  checkMinRank(name, 'probs', probs, 1, '[..., C]');
  const numClasses = probs.shape[probs.rank - 1]!;
  if (numClasses < 2) throw new ShapeError(`${name}: probs must have at least 2 classes on its last axis, found shape [${probs.shape.join(', ')}]`);
  checkSameShape(name, 'probs without its class axis', probs.shape.slice(0, -1), 'target', target.shape);
  if (c.classWeights !== null && c.classWeights.length !== numClasses) {
    throw new ConfigError(`${name}: classWeights has ${c.classWeights.length} entries, expected one per class (${numClasses})`);
  }
  return tf.tidy(() => {
    const indices = tf.cast(target, 'int32');
    // int32 one-hot then a cast: the wasm backend returns zeros for a float32 oneHot (tfjs 4.22).
    let onehot: tf.Tensor = tf.cast(tf.oneHot(indices, numClasses), 'float32');
    if (c.smooth > 0) onehot = tf.clipByValue(onehot, c.smooth / (numClasses - 1), 1 - c.smooth);
    const pt = tf.add(tf.sum(tf.mul(onehot, probs), -1), c.smooth);
    const logPt = tf.log(pt);
    const focusing = tf.pow(tf.sub(1, pt), c.gamma);
    let perPosition = tf.neg(tf.mul(focusing, logPt));
    if (c.classWeights !== null) {
      const alpha = tf.gather(tf.tensor1d(c.classWeights as number[], 'float32'), indices);
      perPosition = tf.mul(alpha, perPosition);
    }
    return reduceLoss(perPosition, c.reduction);
  });
}
