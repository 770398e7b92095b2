/**
 * The engine's Dual-Anchor adapter, with two things the command line needs: predictions that can use the
 * prompt-based score alone (the demo's text-only comparison; the adapter itself returns the fused image score
 * when `scoreFusion.mode` is not 'none'), and saved parameters that record which frozen weights they were
 * trained on (so `eval` and `detect` rebuild the same model from the checkpoint alone).
 */
import * as tf from '@tensorflow/tfjs-core';
import { disposeDualAnchorOutput, type DualAnchorModel } from '@hgm/dual-anchor';
import { DualAnchorEngineModel, FROZEN_METADATA_KEY, type BatchPrediction, type FeatureBatch, type FrozenWeights, type WeightsIdentity } from '@hgm/engine';

export { FROZEN_METADATA_KEY, type FrozenWeights, type WeightsRef } from '@hgm/engine';

/** Which image score {@link CliEngineModel.predict} returns. */
export type ScoreSource = 'configured' | 'text-only';

export class CliEngineModel extends DualAnchorEngineModel {
  /** 'configured': the fused score when fusion is on; 'text-only': the prompt-based score p_cls alone. */
  scoreSource: ScoreSource = 'configured';

  constructor(
    model: DualAnchorModel,
    identity: WeightsIdentity,
    readonly frozen: FrozenWeights,
  ) {
    super(model, identity);
  }

  override async predict(features: FeatureBatch): Promise<BatchPrediction> {
    if (this.scoreSource === 'configured') return super.predict(features);
    const out = await this.model.predictFromFeatures(this.toVisionFeatures(features));
    try {
      return { anomalyMap: tf.clone(out.anomalyMap), imageScore: tf.clone(out.imageScore) };
    } finally {
      disposeDualAnchorOutput(out);
    }
  }

  /** The trainable parameters with the config and the frozen-weights record in the metadata. */
  override async saveTrainable(): Promise<Uint8Array> {
    // The same file as DualAnchorModel.saveTrainable, with one more metadata entry.
    return this.model.params.saveTrainable(this.model.config, { kind: 'dual-anchor', [FROZEN_METADATA_KEY]: JSON.stringify(this.frozen) });
  }
}
