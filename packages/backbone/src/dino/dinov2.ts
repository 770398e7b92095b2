import * as tf from '@tensorflow/tfjs-core';
import type { HostTensor, LoadOptions, SafetensorsReader } from '@hgm/tensor';
import type { ImageEncoderInfo } from '../encoder';
import { resolveDinov2Config, type Dinov2Config } from './dinov2-config';
import { DinoVisionTransformer, type DinoEncoderOptions, type PreparedTokens } from './dino-vit';
import { patchEmbed, patchGrid } from './patch-embed';
import { interpolatePosEmbed } from './pos-embed';
import { dinov2StateDictKeys } from './state-dict-keys';
import type { AffineWeights } from './vit-block';

/**
 * DINOv2 ViT (`DinoVisionTransformer` of facebookresearch/dinov2, eval, no masks): patch embedding, CLS,
 * learned absolute pos-embed resized to the input grid (antialiased bicubic for `dinov2_vitl14_reg`), register
 * tokens inserted after the pos-embed is added, pre-norm blocks with LayerScale, final LayerNorm (eps 1e-6).
 * Token order `[cls, registers, patches]`.
 *
 * Parameters live in {@link params} under the official names (frozen); they start as zeros until
 * {@link loadStateDict} (strict) or {@link Dinov2VisionTransformer.fromStateDict}.
 */
export class Dinov2VisionTransformer extends DinoVisionTransformer {
  readonly config: Dinov2Config;
  readonly info: ImageEncoderInfo;

  constructor(config: Partial<Dinov2Config> = {}, options: DinoEncoderOptions = {}) {
    const c = resolveDinov2Config(config);
    super(dinov2StateDictKeys(c), c.depth, 1 + c.numRegisterTokens, { numHeads: c.numHeads, eps: c.layerNormEps }, options);
    this.config = c;
    this.info = { family: 'dinov2', numLayers: c.depth, width: c.embedDim, outputDim: c.embedDim, patchSize: c.patchSize, preprocess: c.preprocess };
  }

  /** Builds a model and loads official-name weights strictly. */
  static async fromStateDict(
    config: Partial<Dinov2Config>,
    entries: Map<string, HostTensor> | SafetensorsReader,
    options: DinoEncoderOptions & { load?: LoadOptions } = {},
  ): Promise<Dinov2VisionTransformer> {
    return DinoVisionTransformer.loaded(new Dinov2VisionTransformer(config, options), entries, options.load);
  }

  /**
   * The reference's `interpolate_pos_encoding` for a `height x width` image: the positional embedding that is
   * added to `[cls, patches]`.
   * @returns [1, 1 + (height / p) * (width / p), D]
   */
  interpolatePosEncoding(height: number, width: number): tf.Tensor3D {
    return interpolatePosEmbed(this.p('pos_embed'), height, width, this.config.patchSize, {
      antialias: this.config.interpolateAntialias,
      offset: this.config.interpolateOffset,
    });
  }

  protected prepareTokens(pixels: tf.Tensor4D): PreparedTokens {
    const grid = patchGrid(pixels, this.config.inChans, this.config.patchSize, 'dinov2');
    const tokens = tf.tidy(() => {
      const [b, , h, w] = pixels.shape;
      const d = this.config.embedDim;
      const patches = patchEmbed(pixels, this.p('patch_embed.proj.weight'), this.p('patch_embed.proj.bias'), this.config.patchSize);
      const cls = tf.broadcastTo(this.p('cls_token'), [b, 1, d]);
      const x = tf.add(tf.concat([cls, patches], 1), this.interpolatePosEncoding(h, w)) as tf.Tensor3D;
      const r = this.config.numRegisterTokens;
      if (r === 0) return x;
      const n = grid[0] * grid[1];
      const registers = tf.broadcastTo(this.p('register_tokens'), [b, r, d]);
      return tf.concat([tf.slice(x, [0, 0, 0], [b, 1, d]), registers, tf.slice(x, [0, 1, 0], [b, n, d])], 1) as tf.Tensor3D;
    });
    return { tokens, grid };
  }

  protected normWeights(): { patch: AffineWeights; cls: AffineWeights } {
    const norm = { weight: this.p('norm.weight'), bias: this.p('norm.bias') };
    return { patch: norm, cls: norm };
  }
}
