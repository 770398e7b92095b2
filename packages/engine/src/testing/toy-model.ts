/**
 * A small, real model implementing EngineModel, used by the engine's tests so that they exercise the
 * training loop, feature cache, checkpoints, evaluation and detection in milliseconds. It is not part of
 * the public API: a frozen random patch projection (the "backbone") and a trainable linear patch scorer.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ParameterStore, Rng, SafetensorsReader, CheckpointMismatchError } from '@hgm/tensor';
import type { BatchLoss, BatchPrediction, EngineModel, EnginePreprocess, FeatureBatch } from '../engine-model';
import type { FeatureKeyParts } from '../feature-cache';

export interface ToyModelConfig {
  size: number;
  patch: number;
  width: number;
  seed: number;
}

export class ToyModel implements EngineModel {
  readonly name = 'toy';
  readonly parameters = new ParameterStore();
  readonly preprocess: EnginePreprocess;
  readonly featureKey: FeatureKeyParts;
  /** Calls of the vision encoder. */
  encodeCalls = 0;

  constructor(readonly config: ToyModelConfig) {
    this.preprocess = { size: config.size, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], interpolation: 'bilinear', resize: 'squash' };
    this.featureKey = { backbone: 'toy', weights: `seed-${config.seed}`, resolution: config.size, layers: [0], preprocess: JSON.stringify(this.preprocess) };
    const rng = new Rng(config.seed);
    const inDim = 3 * config.patch * config.patch;
    this.parameters.add('backbone.proj', rng.tensorNormal([inDim, config.width], 0, 1 / Math.sqrt(inDim)), { trainable: false });
    this.parameters.add('head.weight', rng.tensorNormal([config.width, 1], 0, 0.1), { trainable: true });
    this.parameters.add('head.bias', tf.zeros([1]), { trainable: true });
  }

  private get grid(): number {
    return this.config.size / this.config.patch;
  }

  async encodeVision(pixels: tf.Tensor4D): Promise<FeatureBatch> {
    this.encodeCalls++;
    const { patch } = this.config;
    const g = this.grid;
    const tokens = tf.tidy(() => {
      const [b] = pixels.shape;
      const x = tf.reshape(pixels, [b, 3, g, patch, g, patch]);
      const p = tf.reshape(tf.transpose(x, [0, 2, 4, 1, 3, 5]), [b * g * g, 3 * patch * patch]);
      return tf.reshape(tf.tanh(tf.matMul(p, this.parameters.get('backbone.proj'))), [b, g * g, this.config.width]);
    });
    return new Map([['patch.0', tokens]]);
  }

  private patchLogits(features: FeatureBatch): tf.Tensor2D {
    const t = features.get('patch.0')!;
    const [b, m, c] = t.shape as [number, number, number];
    return tf.reshape(tf.add(tf.matMul(tf.reshape(t, [b * m, c]), this.parameters.get('head.weight')), this.parameters.get('head.bias')), [
      b,
      m,
    ]) as tf.Tensor2D;
  }

  private upsample(logits: tf.Tensor2D): tf.Tensor3D {
    const [b] = logits.shape;
    const g = this.grid;
    return tf.reshape(tf.image.resizeBilinear(tf.reshape(logits, [b, g, g, 1]) as tf.Tensor4D, [this.config.size, this.config.size]), [
      b,
      this.config.size,
      this.config.size,
    ]) as tf.Tensor3D;
  }

  loss(features: FeatureBatch, masks: tf.Tensor3D, labels: tf.Tensor1D, rng: Rng): BatchLoss {
    const logits = this.patchLogits(features);
    // A little noise from the step's generator, so that reproducibility of the noise stream is tested too.
    const noisy = tf.add(logits, tf.mul(rng.tensorNormal(logits.shape, 0, 1), 0.01));
    const pixelLogits = this.upsample(noisy as tf.Tensor2D);
    const pixel = tf.losses.sigmoidCrossEntropy(tf.reshape(masks, [-1]), tf.reshape(pixelLogits, [-1])) as tf.Scalar;
    const imageLogit = tf.max(noisy, 1);
    const image = tf.losses.sigmoidCrossEntropy(labels, imageLogit) as tf.Scalar;
    return { total: tf.add(pixel, image) as tf.Scalar, terms: { pixel, image } };
  }

  async predict(features: FeatureBatch): Promise<BatchPrediction> {
    return tf.tidy(() => {
      const logits = this.patchLogits(features);
      return { anomalyMap: tf.sigmoid(this.upsample(logits)) as tf.Tensor3D, imageScore: tf.sigmoid(tf.max(logits, 1)) as tf.Tensor1D };
    });
  }

  async saveTrainable(): Promise<Uint8Array> {
    return this.parameters.saveTrainable(this.config);
  }

  async loadTrainable(reader: SafetensorsReader): Promise<void> {
    const cfg = reader.metadata['config'];
    if (cfg !== JSON.stringify(this.config))
      throw new CheckpointMismatchError(reader.name, `${reader.name}: checkpoint config ${cfg} differs from the model's ${JSON.stringify(this.config)}`);
    await this.parameters.loadStateDict(reader, { only: (p) => p.trainable });
  }

  dispose(): void {
    this.parameters.dispose();
  }
}
