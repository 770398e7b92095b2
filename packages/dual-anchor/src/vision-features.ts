import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, disposeOwned } from '@hgm/tensor';
import type { AsyncImageEncoder, ClipVisionTransformer, ImageEncoder } from '@hgm/backbone';
import type { VisionSource } from './dual-anchor-model';

/**
 * What the frozen vision backbone gives for a batch: computed once per image, it can be cached (on disk,
 * by the training engine) and fed to `DualAnchorModel.forwardFromFeatures` in every epoch.
 */
export interface VisionFeatures {
  /** Global token from the backbone, before any learnable adapter. [B, Cg] */
  globalToken: tf.Tensor2D;
  /** Patch tokens of each tapped block, in config order, before any learnable adapter. [B, M, C] each */
  patchTokens: tf.Tensor3D[];
  /** Patch grid [gridH, gridW], M = gridH * gridW (row-major). */
  grid: [number, number];
  /** Input size [H, W] in pixels (the size of the anomaly maps). */
  imageSize: [number, number];
}

/** Disposes every tensor of a {@link VisionFeatures}. */
export function disposeVisionFeatures(f: VisionFeatures): void {
  disposeOwned(f);
}

/** What a backbone gives for a batch (the features without their image size). */
export type BackboneOutput = Omit<VisionFeatures, 'imageSize'>;

/**
 * A frozen vision backbone as the model uses it: `encode` is asynchronous (every executor offers it, and
 * ONNX Runtime computes in a thread of its own); tfjs backbones also offer `encodeSync`, which runs inside
 * `tf.tidy` and gradient tapes.
 */
export interface VisionBackbone {
  readonly kind: 'clip' | 'dinov3' | 'dinov2';
  readonly patchSize: number;
  /** Number of blocks. */
  readonly depth: number;
  /** Width C of the patch tokens it returns (the projection E for CLIP). */
  readonly tokenWidth: number;
  /**
   * @param pixels [B, 3, H, W] normalised
   * @param layers 0-based blocks to tap
   */
  encode(pixels: tf.Tensor4D, layers: readonly number[]): Promise<BackboneOutput>;
  /** The same, synchronously: tfjs backbones only. */
  encodeSync?(pixels: tf.Tensor4D, layers: readonly number[]): BackboneOutput;
}

/**
 * A CLIP vision tower as backbone: patch tokens are `ln_post(tokens) @ proj` without CLS (V-V tokens in
 * V-V blocks, as AnomalyCLIP), the global token is `ln_post(CLS) @ proj` or, with 'no-ln-post',
 * AnomalyCLIP's `CLS @ proj`.
 */
export function clipVisionBackbone(vision: ClipVisionTransformer, globalToken: 'ln-post' | 'no-ln-post'): VisionBackbone {
  const encodeSync = (pixels: tf.Tensor4D, layers: readonly number[]): BackboneOutput => {
    const out = vision.forward(pixels, { layers });
    const patchTokens = out.projectedTokens.map((t) => {
      const s = tf.slice(t, [0, 1, 0], [-1, -1, -1]) as tf.Tensor3D;
      t.dispose();
      return s;
    });
    const keep = globalToken === 'ln-post' ? out.imageEmbeds : out.globalFeature;
    (globalToken === 'ln-post' ? out.globalFeature : out.imageEmbeds).dispose();
    return { globalToken: keep, patchTokens, grid: out.grid };
  };
  return {
    kind: 'clip',
    patchSize: vision.config.vision.patchSize,
    depth: vision.config.vision.layers,
    tokenWidth: vision.config.embedDim,
    encode: async (pixels, layers) => encodeSync(pixels, layers),
    encodeSync,
  };
}

/**
 * A DINO encoder as backbone: normed CLS and normed tapped patch tokens, width C. Any
 * {@link AsyncImageEncoder}; a tfjs {@link ImageEncoder} also gives `encodeSync`.
 */
export function imageEncoderBackbone(encoder: AsyncImageEncoder | ImageEncoder, kind: 'dinov3' | 'dinov2'): VisionBackbone {
  const features = (out: { cls: tf.Tensor2D; patchTokens: tf.Tensor3D[]; grid: [number, number] }): BackboneOutput => ({
    globalToken: out.cls,
    patchTokens: out.patchTokens,
    grid: out.grid,
  });
  return {
    kind,
    patchSize: encoder.info.patchSize,
    depth: encoder.info.numLayers,
    tokenWidth: encoder.info.outputDim,
    encode: async (pixels, layers) => features(await encoder.encode(pixels, { layers: [...layers] })),
    ...('encodeImage' in encoder
      ? { encodeSync: (pixels: tf.Tensor4D, layers: readonly number[]) => features(encoder.encodeImage(pixels, { layers: [...layers] })) }
      : {}),
  };
}

/**
 * An image encoder that also gives CLIP's tokens as the Dual-Anchor backbone takes them (global token with or
 * without `ln_post`, projected patch tokens without CLS): what another executor of a CLIP vision tower, such as
 * `@hgm/onnx`'s `OnnxImageEncoder`, offers.
 */
export interface ClipTokenEncoder extends AsyncImageEncoder {
  encodeClipTokens(pixels: tf.Tensor4D, layers: readonly number[], globalToken: 'ln-post' | 'no-ln-post'): Promise<BackboneOutput>;
}

/**
 * The backbone of a model's vision source run by another executor: `encoder` computes what `source` computes
 * on tfjs (for CLIP it must offer {@link ClipTokenEncoder.encodeClipTokens}); pass it to
 * `DualAnchorModel.useBackbone`.
 * @throws ConfigError when a CLIP source gets an encoder without `encodeClipTokens`
 */
export function executorBackbone(
  encoder: AsyncImageEncoder | ClipTokenEncoder,
  source: Pick<VisionSource, 'kind'> & { globalToken?: 'ln-post' | 'no-ln-post' },
): VisionBackbone {
  if (source.kind !== 'clip') return imageEncoderBackbone(encoder, source.kind);
  if (!('encodeClipTokens' in encoder)) throw new ConfigError('executorBackbone: a CLIP vision source needs an encoder with encodeClipTokens');
  const globalToken = source.globalToken ?? 'ln-post';
  return {
    kind: 'clip',
    patchSize: encoder.info.patchSize,
    depth: encoder.info.numLayers,
    tokenWidth: encoder.info.outputDim,
    encode: (pixels, layers) => encoder.encodeClipTokens(pixels, layers, globalToken),
  };
}
