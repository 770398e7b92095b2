import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@hgm/tensor';
import { crossEntropy, groupAlignmentLoss, mapsLoss, maskToPatchGrid, orthogonalityLoss } from '@hgm/losses';
import type { DualAnchorConfig } from './config';
import type { DualAnchorOutput, LossResult } from './model-types';

/**
 * The loss of method step 6: BCE(p_cls, y) + sum over maps of (Focal(A, S) + Dice(A_a, S) +
 * Dice(A_n, 1 - S)) + |<G_N, G_A>|^2 + (1 - (cos(G_N, Z_N) + cos(G_A, Z_A)) / 2), each with its
 * factor from `config.loss`; the anchor terms are 0 without anchors. Z_N / Z_A use the mapped patch
 * features of the last tapped layer (choice).
 * @param c the model's configuration (loss factors, mask downsampling)
 * @param out the forward output (training mode)
 * @param masks [B, H, W] at the maps' size
 * @param labels [B] 0 / 1
 */
export function dualAnchorLoss(c: DualAnchorConfig, out: DualAnchorOutput, masks: tf.Tensor3D, labels: tf.Tensor1D): LossResult {
  const [, h, w] = out.rawAnomalyMap.shape;
  if (masks.rank !== 3 || masks.shape[1] !== h || masks.shape[2] !== w || masks.shape[0] !== out.rawAnomalyMap.shape[0]) {
    throw new ShapeError(`Dual-Anchor loss: masks must be [${out.rawAnomalyMap.shape.join(', ')}] (the maps' size), found [${masks.shape.join(', ')}]`);
  }
  return tf.tidy(() => {
    const image = crossEntropy(out.imageLogits, labels) as tf.Scalar;
    const maps = mapsLoss(out.mapProbabilities, masks, { focal: { gamma: c.loss.focalGamma } });
    const focal = tf.addN(maps.perMap.map((m) => m.focal)) as tf.Scalar;
    const dice = tf.addN(maps.perMap.flatMap((m) => [m.anomalyDice, m.normalDice])) as tf.Scalar;
    let orthogonality = tf.scalar(0);
    let alignment = tf.scalar(0);
    if (out.imageAnchors) {
      const [gn, ga] = tf.unstack(out.imageAnchors, 1) as [tf.Tensor2D, tf.Tensor2D];
      orthogonality = orthogonalityLoss(gn, ga);
      const last = out.patchFeatures[out.patchFeatures.length - 1]!;
      alignment = groupAlignmentLoss({
        normalAnchor: gn,
        anomalyAnchor: ga,
        patchFeatures: last,
        patchMask: maskToPatchGrid(masks, out.grid, c.loss.maskDownsampling),
      });
    }
    const total = tf.addN([
      tf.mul(image, c.loss.image),
      tf.mul(maps.total, c.loss.maps),
      tf.mul(orthogonality, c.loss.orthogonality),
      tf.mul(alignment, c.loss.alignment),
    ]) as tf.Scalar;
    return { total, terms: { image, maps: maps.total, focal, dice, orthogonality, alignment } } as unknown as tf.TensorContainer;
  }) as unknown as LossResult;
}
