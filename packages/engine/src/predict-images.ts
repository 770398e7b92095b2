/**
 * One forward pass over preprocessed images: image scores and anomaly maps on the host. `detect`, the
 * inference service and the queue workers all go through it, so they give the same numbers.
 */
import * as tf from '@tensorflow/tfjs-core';
import { imageHW, type ImageSize } from '@hgm/tensor';
import type { EngineModel, FeatureBatch } from './engine-model';

/** Scores and maps of a batch, copied off the backend. */
export interface ImagePredictions {
  /** Image anomaly scores in [0, 1]. [B] */
  scores: Float32Array;
  /** Anomaly maps, one `height * width` block per image, row-major. [B, H, W] */
  maps: Float32Array;
  /** The map size: a side for square maps, otherwise `[height, width]` (the model input size). */
  size: ImageSize;
}

/**
 * Runs the model on normalised planar images (each [3 * H * W], H x W = `model.preprocess.size`); every tensor
 * it makes is disposed before it returns.
 * @throws Error naming the image index when an input has the wrong length
 */
export async function predictImages(model: EngineModel, pixels: readonly Float32Array[]): Promise<ImagePredictions> {
  const size = model.preprocess.size;
  const [height, width] = imageHW(size);
  const per = 3 * height * width;
  if (pixels.length === 0) return { scores: new Float32Array(0), maps: new Float32Array(0), size };
  const data = new Float32Array(pixels.length * per);
  pixels.forEach((p, j) => {
    if (p.length !== per) throw new Error(`predictImages: image ${j} has ${p.length} values, expected 3 * ${height} * ${width} = ${per}`);
    data.set(p, j * per);
  });
  const input = tf.tensor4d(data, [pixels.length, 3, height, width]);
  let features: FeatureBatch;
  try {
    features = await model.encodeVision(input);
  } finally {
    input.dispose();
  }
  let pred;
  try {
    pred = await model.predict(features);
  } finally {
    for (const t of features.values()) t.dispose();
  }
  try {
    const maps = (await pred.anomalyMap.data()) as Float32Array;
    const scores = (await pred.imageScore.data()) as Float32Array;
    return { scores, maps, size };
  } finally {
    pred.anomalyMap.dispose();
    pred.imageScore.dispose();
  }
}

/** The highest value of a map. */
export function mapMaximum(map: Float32Array): number {
  let max = -Infinity;
  for (const v of map) if (v > max) max = v;
  return max;
}
