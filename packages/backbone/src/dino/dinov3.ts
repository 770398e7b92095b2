import * as tf from '@tensorflow/tfjs-core';
import type { HostTensor, LoadOptions, SafetensorsReader } from '@hgm/tensor';
import type { ImageEncoderInfo } from '../encoder';
import { resolveDinov3Config, type Dinov3Config } from './dinov3-config';
import { DinoVisionTransformer, type DinoEncoderOptions, type PreparedTokens } from './dino-vit';
import { patchEmbed, patchGrid } from './patch-embed';
import { ropeTables, type RopeTables } from './rope';
import { dinov3StateDictKeys } from './state-dict-keys';
import type { AffineWeights } from './vit-block';

/**
 * DINOv3 ViT (`DinoVisionTransformer` of facebookresearch/dinov3, eval, no masks): patch embedding, CLS and
 * storage tokens (`[cls, storage, patches]`, no absolute pos-embed), pre-norm blocks whose attention rotates
 * the patch queries and keys with 2-D RoPE (periods from the checkpoint buffer `rope_embed.periods`) and
 * whose qkv bias is masked on the key part (`bias * bias_mask`), LayerScale, final LayerNorm
 * (`layernormbf16` = eps 1e-5).
 *
 * The reference uses `cls_token + 0 * mask_token`; that term is exactly zero for finite weights and is not
 * computed. Parameters live in {@link params} under the official names (frozen), zeros until loaded.
 */
export class Dinov3VisionTransformer extends DinoVisionTransformer {
  readonly config: Dinov3Config;
  readonly info: ImageEncoderInfo;

  constructor(config: Partial<Dinov3Config> = {}, options: DinoEncoderOptions = {}) {
    const c = resolveDinov3Config(config);
    super(dinov3StateDictKeys(c), c.depth, 1 + c.numStorageTokens, { numHeads: c.numHeads, eps: c.layerNormEps }, options);
    this.config = c;
    this.info = { family: 'dinov3', numLayers: c.depth, width: c.embedDim, outputDim: c.embedDim, patchSize: c.patchSize, preprocess: c.preprocess };
  }

  /** Builds a model and loads official-name weights strictly. */
  static async fromStateDict(
    config: Partial<Dinov3Config>,
    entries: Map<string, HostTensor> | SafetensorsReader,
    options: DinoEncoderOptions & { load?: LoadOptions } = {},
  ): Promise<Dinov3VisionTransformer> {
    return DinoVisionTransformer.loaded(new Dinov3VisionTransformer(config, options), entries, options.load);
  }

  /**
   * The reference's `rope_embed(H=gridH, W=gridW)`.
   * @returns sin, cos [gridH * gridW, headDim]
   */
  ropeEmbed(gridH: number, gridW: number): RopeTables {
    return ropeTables(this.p('rope_embed.periods'), gridH, gridW, this.config.ropeNormalizeCoords);
  }

  protected prepareTokens(pixels: tf.Tensor4D): PreparedTokens {
    const grid = patchGrid(pixels, this.config.inChans, this.config.patchSize, 'dinov3');
    const tokens = tf.tidy(() => {
      const b = pixels.shape[0];
      const d = this.config.embedDim;
      const patches = patchEmbed(pixels, this.p('patch_embed.proj.weight'), this.p('patch_embed.proj.bias'), this.config.patchSize);
      const parts: tf.Tensor[] = [tf.broadcastTo(this.p('cls_token'), [b, 1, d])];
      if (this.config.numStorageTokens > 0) parts.push(tf.broadcastTo(this.p('storage_tokens'), [b, this.config.numStorageTokens, d]));
      parts.push(patches);
      return tf.concat(parts, 1) as tf.Tensor3D;
    });
    return { tokens, grid, rope: this.ropeEmbed(grid[0], grid[1]) };
  }

  protected normWeights(): { patch: AffineWeights; cls: AffineWeights } {
    const patch = { weight: this.p('norm.weight'), bias: this.p('norm.bias') };
    const cls = this.config.untieClsAndPatchNorms ? { weight: this.p('cls_norm.weight'), bias: this.p('cls_norm.bias') } : patch;
    return { patch, cls };
  }
}
