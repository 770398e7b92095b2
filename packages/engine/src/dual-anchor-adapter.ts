/**
 * The Dual-Anchor model (and the AnomalyCLIP baseline, which is the same class with its modules off) as an
 * {@link EngineModel}: frozen features are flattened into named tensors for the feature cache, and the
 * loss and predictions come from `@hgm/dual-anchor`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng, SafetensorsReader } from '@hgm/tensor';
import { disposeDualAnchorOutput, type DualAnchorModel, type VisionFeatures } from '@hgm/dual-anchor';
import type { BatchLoss, BatchPrediction, EngineModel, EnginePreprocess, FeatureBatch } from './engine-model';
import type { FeatureKeyParts } from './feature-cache';
import { ShapeError } from '@hgm/tensor';

/** Identity of the frozen weights, for the feature cache (a file checksum, or the seed of generated weights). */
export interface WeightsIdentity {
  backbone: string;
  weights: string;
}

export class DualAnchorEngineModel implements EngineModel {
  readonly name: string;
  readonly config: unknown;
  readonly preprocess: EnginePreprocess;
  readonly featureKey: FeatureKeyParts;

  constructor(
    readonly model: DualAnchorModel,
    identity: WeightsIdentity,
  ) {
    const c = model.config;
    this.config = c;
    const m = c.modules;
    this.name = !m.hgm && !m.ggtr && !m.dsp ? 'anomalyclip' : 'dual-anchor';
    const pre = c.backbone.kind === 'clip' ? c.clip.preprocess : c.backbone.config.preprocess;
    // The reference pipelines resize the whole image to size x size with bicubic resampling (AnomalyCLIP's
    // transforms.Resize((S, S), BICUBIC)), whatever the backbone's own reference preprocessing; only its
    // normalisation statistics are taken.
    this.preprocess = { size: c.imageSize, mean: [...pre.mean], std: [...pre.std], interpolation: 'bicubic', resize: 'squash' };
    this.featureKey = { backbone: identity.backbone, weights: identity.weights, resolution: c.imageSize, layers: [...c.layers], preprocess: JSON.stringify(this.preprocess) };
  }

  get parameters() {
    return this.model.params;
  }

  encodeVision(pixels: tf.Tensor4D): FeatureBatch {
    const f = this.model.encodeVision(pixels);
    const out: FeatureBatch = new Map([['global', f.globalToken as tf.Tensor]]);
    f.patchTokens.forEach((t, i) => out.set(`patch.${i}`, t));
    return out;
  }

  /** Rebuilds VisionFeatures from a feature batch (the tensors stay owned by the caller). */
  toVisionFeatures(features: FeatureBatch): VisionFeatures {
    const c = this.model.config;
    const globalToken = features.get('global');
    if (!globalToken) throw new ShapeError('feature batch has no "global" tensor');
    const patchTokens = c.layers.map((_, i) => {
      const t = features.get(`patch.${i}`);
      if (!t) throw new ShapeError(`feature batch has no "patch.${i}" tensor (the model taps ${c.layers.length} layers)`);
      return t as tf.Tensor3D;
    });
    const m = patchTokens[0]!.shape[1];
    const g = Math.round(Math.sqrt(m));
    if (g * g !== m) throw new ShapeError(`feature batch: ${m} patch tokens do not form a square grid`);
    return { globalToken: globalToken as tf.Tensor2D, patchTokens, grid: [g, g], imageSize: [c.imageSize, c.imageSize] };
  }

  loss(features: FeatureBatch, masks: tf.Tensor3D, labels: tf.Tensor1D, rng: Rng): BatchLoss {
    const r = this.model.trainingLoss({ features: this.toVisionFeatures(features), masks, labels }, { rng, training: true });
    return { total: r.total, terms: { image: r.terms.image, focal: r.terms.focal, dice: r.terms.dice, orthogonality: r.terms.orthogonality, alignment: r.terms.alignment } };
  }

  predict(features: FeatureBatch): BatchPrediction {
    const out = this.model.forwardFromFeatures(this.toVisionFeatures(features), { training: false });
    const anomalyMap = tf.clone(out.anomalyMap);
    // With score fusion configured (off by default), the fused score is the image score.
    const imageScore = tf.clone(out.fusedImageScore ?? out.imageScore);
    disposeDualAnchorOutput(out);
    return { anomalyMap, imageScore };
  }

  saveTrainable(): Promise<Uint8Array> {
    return this.model.saveTrainable();
  }

  async loadTrainable(reader: SafetensorsReader): Promise<void> {
    await this.model.loadTrainable(reader, reader.name);
  }

  dispose(): void {
    this.model.dispose();
  }
}

