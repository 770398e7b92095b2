import type * as tf from '@tensorflow/tfjs-core';
import type { ParameterStore, Rng, SafetensorsReader } from '@hgm/tensor';
import type { PreprocessConfig } from '@hgm/backbone';
import type { FeatureKeyParts } from './feature-cache';

/** Named feature tensors of a batch, each with the batch on axis 0 (e.g. `cls` [B, D], `patch.6` [B, M, C]). */
export type FeatureBatch = Map<string, tf.Tensor>;

/** Loss of one batch: the total (to minimise) and every term (for the logs). */
export interface BatchLoss {
  total: tf.Scalar;
  terms: Record<string, tf.Scalar>;
}

/** Predictions of one batch. */
export interface BatchPrediction {
  /** Per-pixel anomaly map at the input size, smoothed as the model does at test time. [B, S, S] */
  anomalyMap: tf.Tensor3D;
  /** Image anomaly score in [0, 1]. [B] */
  imageScore: tf.Tensor1D;
}

/** Pre-processing facts the engine needs to feed the model: the backbone's own (size, mean/std, filter, resize). */
export type EnginePreprocess = PreprocessConfig;

/**
 * What the engine needs of a model: frozen feature extraction (cacheable), a loss on features, predictions on
 * features, and its trainable parameters. The Dual-Anchor model and the AnomalyCLIP baseline both provide it
 * (`@hgm/dual-anchor`'s engine adapter).
 */
export interface EngineModel {
  /** A short name for reports (`dual-anchor`, `anomalyclip`). */
  readonly name: string;
  /** The model config, stored in checkpoints; a checkpoint of another config is refused. */
  readonly config: unknown;
  readonly preprocess: EnginePreprocess;
  /** Identity of the frozen feature extractor, for the feature cache. */
  readonly featureKey: FeatureKeyParts;
  /** All parameters; the trainable ones are updated by training. */
  readonly parameters: ParameterStore;
  /**
   * Frees the frozen vision encoder once every feature a job needs is cached (training: the paper's encoder
   * holds 1.2 GB a step needs); `encodeVision` cannot run afterwards. Returns the tfjs bytes freed. Optional.
   */
  releaseVisionEncoder?(): number;
  /**
   * Frozen features of normalised images [B, 3, S, S] (no gradient flows into the backbone), awaited: the
   * encoder may compute off the main thread (ONNX Runtime). The caller may dispose `pixels` once it settles.
   */
  encodeVision(pixels: tf.Tensor4D): Promise<FeatureBatch>;
  /**
   * The training loss of a batch, computed inside a gradient tape by the engine.
   * @param masks [B, S, S] 0/1 float32
   * @param labels [B] 0/1 float32
   * @param rng noise source for this step (Gumbel noise), seeded by the engine so runs are reproducible
   */
  loss(features: FeatureBatch, masks: tf.Tensor3D, labels: tf.Tensor1D, rng: Rng): BatchLoss;
  /** Predictions in eval mode. */
  predict(features: FeatureBatch): Promise<BatchPrediction>;
  /** Trainable parameters as safetensors bytes with the config in the metadata. */
  saveTrainable(): Promise<Uint8Array>;
  /** Loads trainable parameters saved by {@link saveTrainable}; refuses another configuration, naming the difference. */
  loadTrainable(reader: SafetensorsReader): Promise<void>;
  dispose(): void;
}
