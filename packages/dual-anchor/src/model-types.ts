import type * as tf from '@tensorflow/tfjs-core';
import { disposeOwned, type Rng } from '@hgm/tensor';
import type { GroupMergingLevel } from '@hgm/group-merging';
import type { VisionFeatures } from './vision-features';

/** Options of {@link DualAnchorModel.forwardFromFeatures}. */
export interface ForwardOptions {
  /** Training mode: Gumbel noise in HGM (drawn from `rng`), no test-time blur. Default false. */
  training?: boolean;
  /** Source of the Gumbel noise in training mode. */
  rng?: Rng;
  /** Keep HGM's per-level tensors (assignments, group tokens) in the output. Default false. */
  keepGroupLevels?: boolean;
}

/** Typed output of the model. Every tensor belongs to the caller ({@link disposeDualAnchorOutput}). */
export interface DualAnchorOutput {
  /** M: the combined anomaly map, blurred at test time (sigma 4), not in training. [B, H, W] */
  anomalyMap: tf.Tensor3D;
  /** The combined map before the blur (AnomalyCLIP's `anomaly_map` before `gaussian_filter`). [B, H, W] */
  rawAnomalyMap: tf.Tensor3D;
  /** p_cls[a], the image anomaly score in [0, 1]. [B] */
  imageScore: tf.Tensor1D;
  /** With `scoreFusion.mode` other than 'none': the score fused with a statistic of the map. [B] */
  fusedImageScore: tf.Tensor1D | null;
  /** p_cls = softmax over {n, a} of cos(t_ref, T) / temperature. [B, 2] */
  imageProbabilities: tf.Tensor2D;
  /** cos(t_ref, T) / temperature. [B, 2] */
  imageLogits: tf.Tensor2D;
  /** A^(l): per map (tapped layers, then F_assign) the state probabilities at input size, channel 0 normal. [B, H, W, 2] each */
  mapProbabilities: tf.Tensor4D[];
  /** (A_a + 1 - A_n) / 2 of each map. [B, H, W] each */
  layerAnomalyMaps: tf.Tensor3D[];
  /** T: unit-normalised text anchors (normal, anomalous); batch 1 for static prompts. [B or 1, 2, D] */
  textFeatures: tf.Tensor3D;
  /** t_cls mapped to D. [B, D] */
  globalToken: tf.Tensor2D;
  /** t_ref (t_cls when GGTR is off). [B, D] */
  refinedCls: tf.Tensor2D;
  /** Patch tokens of each tapped layer mapped to D. [B, M, D] each */
  patchFeatures: tf.Tensor3D[];
  /** [G_N, G_A] (null for the AnomalyCLIP baseline). [B, 2, D] */
  imageAnchors: tf.Tensor3D | null;
  /** F_assign from HGM (null without HGM). [B, M, D] */
  assignedFeatures: tf.Tensor3D | null;
  /** HGM's levels with `keepGroupLevels`. */
  groupLevels: GroupMergingLevel[] | null;
  grid: [number, number];
}

/** Disposes every tensor of an output. */
export function disposeDualAnchorOutput(o: DualAnchorOutput): void {
  disposeOwned(o);
}

/** A training batch: cached features or pixels, masks at input size and image labels. */
export interface TrainingBatch {
  features?: VisionFeatures;
  /** [B, 3, H, W] normalised (used when `features` is absent). */
  pixels?: tf.Tensor4D;
  /** Ground truth, 1 = anomalous. [B, H, W] */
  masks: tf.Tensor3D;
  /** 0 normal, 1 anomalous. [B] */
  labels: tf.Tensor1D;
}

/** The loss of method step 6 with each term (all scalars; terms of a missing module are 0). */
export interface LossResult {
  total: tf.Scalar;
  terms: {
    /** Two-class cross-entropy of p_cls (the BCE of the method). */
    image: tf.Scalar;
    /** Sum over maps of Focal + Dice(A_a, S) + Dice(A_n, 1 - S). */
    maps: tf.Scalar;
    focal: tf.Scalar;
    dice: tf.Scalar;
    orthogonality: tf.Scalar;
    alignment: tf.Scalar;
  };
}

/** Loss terms as numbers. */
export type LossValues = { total: number } & { [K in keyof LossResult['terms']]: number };

/** Disposes a {@link LossResult}. */
export function disposeLossResult(r: LossResult): void {
  disposeOwned(r);
}

/** Reads a loss result as numbers (does not dispose it). */
export async function lossValues(r: LossResult): Promise<LossValues> {
  const out: Record<string, number> = { total: (await r.total.data())[0]! };
  for (const [k, v] of Object.entries(r.terms)) out[k] = (await v.data())[0]!;
  return out as LossValues;
}
