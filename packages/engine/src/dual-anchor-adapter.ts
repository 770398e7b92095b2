/**
 * The Dual-Anchor model (and the AnomalyCLIP baseline, which is the same class with its modules off) as an
 * {@link EngineModel}: frozen features are flattened into named tensors for the feature cache, and the
 * loss and predictions come from `@hgm/dual-anchor`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng, SafetensorsReader } from '@hgm/tensor';
import { disposeDualAnchorOutput, type DualAnchorModel, type VisionBackbone, type VisionFeatures } from '@hgm/dual-anchor';
import type { BatchLoss, BatchPrediction, EngineModel, EnginePreprocess, FeatureBatch } from './engine-model';
import type { FeatureKeyParts } from './feature-cache';
import { ShapeError, canonicalImageSize, formatImageSize, imageHW } from '@hgm/tensor';

/** Identity of the frozen weights, for the feature cache (a file checksum, or the seed of generated weights). */
export interface WeightsIdentity {
  backbone: string;
  weights: string;
}

/** A per-image pair stored with the features (`grid`, `imageSize`): one value for the whole batch. */
function layoutOf(features: FeatureBatch, name: string, meaning: string): [number, number] {
  const t = features.get(name);
  if (!t) throw new Error(`feature batch has no "${name}" tensor (${meaning} per image)`);
  if (t.rank !== 2 || t.shape[1] !== 2) throw new Error(`feature batch: "${name}" has shape [${t.shape.join(', ')}], expected [B, 2] (${meaning} per image)`);
  const values = t.dataSync();
  const first: [number, number] = [values[0]!, values[1]!];
  for (let i = 0; i < values.length; i += 2) {
    if (values[i] !== first[0] || values[i + 1] !== first[1]) {
      throw new Error(`feature batch: "${name}" differs between images ([${first.join(', ')}] and [${values[i]}, ${values[i + 1]}]); a batch holds one layout`);
    }
  }
  if (!first.every((v) => Number.isInteger(v) && v > 0)) throw new Error(`feature batch: "${name}" must hold positive integers, found [${first.join(', ')}]`);
  return first;
}

export class DualAnchorEngineModel implements EngineModel {
  readonly name: string;
  readonly config: unknown;
  readonly preprocess: EnginePreprocess;
  featureKey: FeatureKeyParts;

  constructor(
    readonly model: DualAnchorModel,
    identity: WeightsIdentity,
  ) {
    const c = model.config;
    this.config = c;
    const m = c.modules;
    this.name = !m.hgm && !m.refiner && !m.dsp ? 'anomalyclip' : 'dual-anchor';
    const pre = c.backbone.kind === 'clip' ? c.clip.preprocess : c.backbone.config.preprocess;
    // The reference pipelines resize the whole image to size x size with bicubic resampling (AnomalyCLIP's
    // transforms.Resize((S, S), BICUBIC)), whatever the backbone's own reference preprocessing; only its
    // normalisation statistics are taken.
    this.preprocess = { size: c.imageSize, mean: [...pre.mean], std: [...pre.std], interpolation: 'bicubic', resize: 'squash' };
    this.featureKey = {
      backbone: identity.backbone,
      weights: identity.weights,
      resolution: canonicalImageSize(c.imageSize),
      layers: [...c.layers],
      preprocess: JSON.stringify(this.preprocess),
    };
  }

  /**
   * Runs the frozen vision step with another executor of the same encoder (e.g. `@hgm/onnx`'s ONNX Runtime
   * graph, built from `model.frozen.visionSource`). `executor.name` enters the feature-cache key only when
   * `executor.exact` is false, i.e. when its outputs can differ from tfjs's beyond the parity tolerance;
   * exact executors share the cache entries of tfjs. The caller keeps ownership of `backbone`'s resources.
   */
  useVisionExecutor(backbone: VisionBackbone, executor: { name: string; exact: boolean }): void {
    this.model.useBackbone(backbone);
    const key: FeatureKeyParts = { ...this.featureKey };
    delete key.executor;
    if (!executor.exact) key.executor = executor.name;
    this.featureKey = key;
  }

  get parameters() {
    return this.model.params;
  }

  releaseVisionEncoder(): number {
    const bytes = this.model.releaseVisionEncoder();
    const hooks = this.releaseHooks.splice(0);
    for (const h of hooks) h();
    return bytes;
  }

  /** Called once when the vision encoder is released (e.g. to close another executor's session). */
  onVisionRelease(hook: () => void): void {
    this.releaseHooks.push(hook);
  }

  private readonly releaseHooks: (() => void)[] = [];

  /**
   * The frozen features of a batch as named tensors: `global` [B, E], `patch.{i}` [B, M, E] per tapped
   * layer, and per image the patch grid `grid` [B, 2] (rows, columns) and the input size `imageSize`
   * [B, 2] (height, width), so that cached features carry their layout instead of it being guessed.
   */
  async encodeVision(pixels: tf.Tensor4D): Promise<FeatureBatch> {
    const f = await this.model.encodeVision(pixels);
    const batch = pixels.shape[0];
    const out: FeatureBatch = new Map([['global', f.globalToken as tf.Tensor]]);
    f.patchTokens.forEach((t, i) => out.set(`patch.${i}`, t));
    out.set(
      'grid',
      tf.tensor2d(
        Array.from({ length: batch }, () => [...f.grid]),
        [batch, 2],
      ),
    );
    out.set(
      'imageSize',
      tf.tensor2d(
        Array.from({ length: batch }, () => [...f.imageSize]),
        [batch, 2],
      ),
    );
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
    const grid = layoutOf(features, 'grid', '[rows, columns]');
    const imageSize = layoutOf(features, 'imageSize', '[height, width]');
    const m = patchTokens[0]!.shape[1];
    if (grid[0] * grid[1] !== m) throw new ShapeError(`feature batch: grid [${grid.join(', ')}] does not match the ${m} patch tokens of "patch.0"`);
    const [height, width] = imageHW(c.imageSize);
    if (imageSize[0] !== height || imageSize[1] !== width) {
      throw new ShapeError(
        `feature batch: features of a [${imageSize.join(', ')}] (height, width) input, expected the model's image size [${height}, ${width}] (${formatImageSize(c.imageSize)})`,
      );
    }
    const p = this.model.frozen.backbone.patchSize;
    if (grid[0] !== height / p || grid[1] !== width / p) {
      throw new ShapeError(
        `feature batch: grid [${grid.join(', ')}] (rows, columns), expected [${height / p}, ${width / p}] for a ${height} x ${width} input with patch ${p}`,
      );
    }
    return { globalToken: globalToken as tf.Tensor2D, patchTokens, grid, imageSize };
  }

  loss(features: FeatureBatch, masks: tf.Tensor3D, labels: tf.Tensor1D, rng: Rng): BatchLoss {
    const r = this.model.trainingLoss({ features: this.toVisionFeatures(features), masks, labels }, { rng, training: true });
    return {
      total: r.total,
      terms: { image: r.terms.image, focal: r.terms.focal, dice: r.terms.dice, orthogonality: r.terms.orthogonality, alignment: r.terms.alignment },
    };
  }

  async predict(features: FeatureBatch): Promise<BatchPrediction> {
    const out = await this.model.predictFromFeatures(this.toVisionFeatures(features));
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
