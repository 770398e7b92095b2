import type * as tf from '@tensorflow/tfjs-core';
import type { ImageSize } from '@hgm/tensor';

/** How images are prepared for a backbone, next to its config. */
export interface PreprocessConfig {
  /** Input size in pixels: a square side (e.g. 224, 336, 518) or `[height, width]`. */
  size: ImageSize;
  /** Per-channel mean and std of [0, 1] RGB. */
  mean: [number, number, number];
  std: [number, number, number];
  /** Resize filter the reference uses. */
  interpolation: 'bicubic' | 'bilinear';
  /** `shortest-side-then-center-crop` (CLIP, DINOv2 eval) or `squash` (DINOv3, AnomalyCLIP: resize to size x size). */
  resize: 'shortest-side-then-center-crop' | 'squash';
  /**
   * Side the shorter edge is resized to before the centre crop to `size` (default `size`): DINOv2's
   * evaluation resizes to 256 and crops 224. Only for `shortest-side-then-center-crop`.
   */
  resizeSize?: number;
}

/** Static facts about a vision encoder. */
export interface ImageEncoderInfo {
  family: 'clip' | 'dinov2' | 'dinov3';
  /** Number of transformer blocks. */
  numLayers: number;
  /** Token width C of the blocks. */
  width: number;
  /** Width of the patch tokens returned by encodeImage (C, or the projection's output for CLIP). */
  outputDim: number;
  patchSize: number;
  preprocess: PreprocessConfig;
}

/** Options of {@link ImageEncoder.encodeImage}. */
export interface EncodeImageOptions {
  /** 0-based indices of the blocks whose outputs to return as patch tokens (default: the last). */
  layers?: number[];
}

/** What an image encoder returns. */
export interface ImageEncoding {
  /** Global token: CLS after the final norm (and projection, for CLIP). [B, outputDim] */
  cls: tf.Tensor2D;
  /** Patch tokens of each requested layer, in the order asked: [B, M, outputDim] each, M = gridH * gridW. */
  patchTokens: tf.Tensor3D[];
  /** Patch grid [gridH, gridW]. */
  grid: [number, number];
}

/**
 * One asynchronous interface for every vision backbone (CLIP ViT, DINOv2, DINOv3) and every executor of their
 * weights: tfjs, ONNX Runtime in Node (`@hgm/onnx`, computing in a thread of its own) and onnxruntime-web in
 * the browser. Callers await `encode`; the returned tensors are theirs to dispose.
 */
export interface AsyncImageEncoder {
  readonly info: ImageEncoderInfo;
  /**
   * @param pixels normalised images [B, 3, H, W] (H and W multiples of the patch size); the caller may dispose
   *   them once the promise settles
   */
  encode(pixels: tf.Tensor4D, options?: EncodeImageOptions): Promise<ImageEncoding>;
  dispose(): void | Promise<void>;
}

/**
 * A tfjs encoder: {@link AsyncImageEncoder} plus a synchronous `encodeImage`, which runs inside `tf.tidy` and
 * gradient tapes.
 */
export interface ImageEncoder extends AsyncImageEncoder {
  /**
   * @param pixels normalised images [B, 3, H, W] (H and W multiples of the patch size)
   */
  encodeImage(pixels: tf.Tensor4D, options?: EncodeImageOptions): ImageEncoding;
  dispose(): void;
}
