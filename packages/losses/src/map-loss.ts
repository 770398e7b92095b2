import * as tf from '@tensorflow/tfjs-core';
import { binaryDiceLoss, resolveBinaryDiceLossConfig, type BinaryDiceLossConfig } from './binary-dice-loss';
import { checkFloat, checkKnownKeys, checkNumber, checkRank, checkSameShape } from './checks';
import { focalLoss, resolveFocalLossConfig, type FocalLossConfig } from './focal-loss';
import { ConfigError, ShapeError } from '@hgm/tensor';

export interface MapLossConfig {
  /** Focal-loss settings (reduction is always 'mean' here). */
  focal: Omit<FocalLossConfig, 'reduction'>;
  dice: BinaryDiceLossConfig;
  /**
   * Factor on each map's (focal + dice + dice). The method: 1. AnomalyCLIP's train.py adds the three
   * terms once per similarity map (four maps), which its golden fixtures record as 4 x one map's sum.
   */
  weight: number;
}

export const DEFAULT_MAP_LOSS_CONFIG: Readonly<MapLossConfig> = Object.freeze({
  focal: Object.freeze({ gamma: 2, smooth: 1e-5, classWeights: null }),
  dice: Object.freeze({ smooth: 1 }),
  weight: 1,
});

/** Partial config: each nested part may be partial too. */
export interface MapLossConfigInput {
  focal?: Partial<MapLossConfig['focal']>;
  dice?: Partial<BinaryDiceLossConfig>;
  weight?: number;
}

/** Fills the defaults and validates a map-loss config. */
export function resolveMapLossConfig(partial: MapLossConfigInput = {}): MapLossConfig {
  const where = 'map loss config';
  checkKnownKeys(where, partial, DEFAULT_MAP_LOSS_CONFIG);
  const { reduction: _reduction, ...focal } = resolveFocalLossConfig({ ...DEFAULT_MAP_LOSS_CONFIG.focal, ...partial.focal, reduction: 'mean' });
  const dice = resolveBinaryDiceLossConfig({ ...DEFAULT_MAP_LOSS_CONFIG.dice, ...partial.dice });
  const weight = checkNumber(where, 'weight', partial.weight ?? DEFAULT_MAP_LOSS_CONFIG.weight, { min: 0 });
  return { focal, dice, weight };
}

/** The terms of one map's loss, each a scalar tensor. */
export type MapLossTerms = {
  /** Focal(A, S). */
  focal: tf.Scalar;
  /** Dice(A_a, S): the anomaly channel against the mask. */
  anomalyDice: tf.Scalar;
  /** Dice(A_n, 1 - S): the normal channel against the mask's complement. */
  normalDice: tf.Scalar;
  /** weight * (focal + anomalyDice + normalDice). */
  total: tf.Scalar;
};

/**
 * The segmentation loss of one anomaly map (method step 6, from AnomalyCLIP's train.py):
 * Focal(A, S) + Dice(A_a, S) + Dice(A_n, 1 - S), with every term reported.
 *
 * The returned tensors belong to the caller (dispose them). Inside `tf.variableGrads` / `tf.grad`, return
 * `total` and `tf.keep` the terms you want to log.
 *
 * @param probs [B, H, W, 2] the map's probabilities, channel 0 normal, channel 1 anomalous
 * @param mask [B, H, W] ground truth at the map's size, 0/1 (1 = anomalous)
 */
export function mapLoss(probs: tf.Tensor, mask: tf.Tensor, config: MapLossConfigInput = {}): MapLossTerms {
  const c = resolveMapLossConfig(config);
  const name = 'mapLoss';
  checkFloat(name, 'probs', probs);
  checkRank(name, 'probs', probs, 4, '[B, H, W, 2]');
  if (probs.shape[3] !== 2)
    throw new ShapeError(`${name}: probs must have 2 channels (normal, anomalous) on its last axis, found shape [${probs.shape.join(', ')}]`);
  checkSameShape(name, 'probs[..., 0]', probs.shape.slice(0, 3), 'mask', mask.shape);
  return tf.tidy(() => {
    const target = tf.cast(mask, 'float32');
    const [normalProb, anomalyProb] = tf.unstack(probs, 3) as [tf.Tensor, tf.Tensor];
    const focal = focalLoss(probs, target, { ...c.focal, reduction: 'mean' }) as tf.Scalar;
    const anomalyDice = binaryDiceLoss(anomalyProb, target, c.dice);
    const normalDice = binaryDiceLoss(normalProb, tf.sub(1, target), c.dice);
    const total = tf.mul(tf.addN([focal, anomalyDice, normalDice]), c.weight) as tf.Scalar;
    return { focal, anomalyDice, normalDice, total };
  });
}

/** The loss over several maps: their totals summed, and each map's terms. */
export type MapsLossResult = {
  /** sum over maps of each map's total. */
  total: tf.Scalar;
  perMap: MapLossTerms[];
};

/**
 * Sum of `mapLoss` over the L + 1 maps of the method (one per tapped layer, plus the one from F_assign).
 * @param maps each [B, H, W, 2]
 * @param mask [B, H, W]
 */
export function mapsLoss(maps: readonly tf.Tensor[], mask: tf.Tensor, config: MapLossConfigInput = {}): MapsLossResult {
  if (maps.length === 0) throw new ConfigError('mapsLoss: maps must hold at least one map, found none');
  return tf.tidy(() => {
    const perMap = maps.map((m, i) => {
      try {
        return mapLoss(m, mask, config);
      } catch (e) {
        const message = `mapsLoss: map ${i}: ${(e as Error).message}`;
        throw e instanceof ShapeError ? new ShapeError(message, e, { cause: e }) : new ConfigError(message, { cause: e });
      }
    });
    const total = (perMap.length === 1 ? tf.clone(perMap[0]!.total) : tf.addN(perMap.map((t) => t.total))) as tf.Scalar;
    return { total, perMap };
  });
}
