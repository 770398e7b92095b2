import * as tf from '@tensorflow/tfjs-core';
import type { EncodeImageOptions, ImageEncoder, ImageEncoderInfo, ImageEncoding } from '../encoder';
import { layerNorm, project } from '@hgm/nn';
import type { ClipConfig } from './config';
import { patchEmbedding } from './patch-embedding';
import { interpolatePositionalEmbedding } from './positional-embedding';
import { dualPathBlock, residualBlock, residualBlockWeights, type ResidualBlockWeights } from './residual-block';
import type { ClipVisionForwardOptions, ClipVisionOptions, ClipVisionOutput } from './types';
import { ConfigError, ShapeError } from '@hgm/tensor';

/** Where the vision tower reads its weights (by openai state-dict name). */
export type WeightLookup = (name: string) => tf.Tensor;

/**
 * The vision tower of OpenAI CLIP (`clip/model.py:VisionTransformer`): bias-free patch conv, class and
 * positional embeddings, `ln_pre`, residual blocks with QuickGELU, `ln_post`, projection; optionally
 * AnomalyCLIP's V-V attention in the last blocks (set at construction, see {@link ClipVisionOptions}).
 *
 * Inputs of another size than the config's use a positional table resized as AnomalyCLIP does (bilinear,
 * CLS row kept), computed per call; the weights are never changed.
 *
 * Build it with `ClipModel` (which owns the weights); disposing the tower disposes that model's weights.
 */
export class ClipVisionTransformer implements ImageEncoder {
  readonly info: ImageEncoderInfo;
  /** Number of final blocks that run the V-V dual path. */
  readonly vvAttentionBlocks: number;
  private readonly blocks: ResidualBlockWeights[];
  private readonly classEmbedding: tf.Tensor1D;
  private readonly positionalEmbedding: tf.Tensor2D;
  private readonly conv1: tf.Tensor4D;
  private readonly lnPreWeight: tf.Tensor1D;
  private readonly lnPreBias: tf.Tensor1D;
  private readonly lnPostWeight: tf.Tensor1D;
  private readonly lnPostBias: tf.Tensor1D;
  private readonly proj: tf.Tensor2D;

  constructor(
    readonly config: ClipConfig,
    weights: WeightLookup,
    options: ClipVisionOptions = {},
    private readonly onDispose: () => void = () => undefined,
  ) {
    const v = config.vision;
    const vv = options.vvAttentionBlocks ?? 0;
    if (!Number.isInteger(vv) || vv < 0 || vv > v.layers) {
      throw new ConfigError(`ClipVisionTransformer: vvAttentionBlocks must be an integer in [0, ${v.layers}], found ${vv}`);
    }
    this.vvAttentionBlocks = vv;
    this.classEmbedding = weights('visual.class_embedding') as tf.Tensor1D;
    this.positionalEmbedding = weights('visual.positional_embedding') as tf.Tensor2D;
    this.conv1 = weights('visual.conv1.weight') as tf.Tensor4D;
    this.lnPreWeight = weights('visual.ln_pre.weight') as tf.Tensor1D;
    this.lnPreBias = weights('visual.ln_pre.bias') as tf.Tensor1D;
    this.lnPostWeight = weights('visual.ln_post.weight') as tf.Tensor1D;
    this.lnPostBias = weights('visual.ln_post.bias') as tf.Tensor1D;
    this.proj = weights('visual.proj') as tf.Tensor2D;
    this.blocks = Array.from({ length: v.layers }, (_, i) => residualBlockWeights(weights, `visual.transformer.resblocks.${i}.`));
    this.info = {
      family: 'clip',
      numLayers: v.layers,
      width: v.width,
      outputDim: config.embedDim,
      patchSize: v.patchSize,
      preprocess: config.preprocess,
    };
  }

  /** 0-based index of the first V-V block (= number of layers when there is none). */
  get firstVVBlock(): number {
    return this.config.vision.layers - this.vvAttentionBlocks;
  }

  /**
   * The positional table used for a patch grid: the weights' table at the native grid, otherwise resized
   * as AnomalyCLIP does. [1 + gridH*gridW, W]
   */
  positionalEmbeddingFor(grid: readonly [number, number]): tf.Tensor2D {
    return interpolatePositionalEmbedding(this.positionalEmbedding, grid);
  }

  /**
   * Runs the tower.
   * @param pixels normalised images [B, 3, H, W], H and W multiples of the patch size
   */
  forward(pixels: tf.Tensor4D, options: ClipVisionForwardOptions = {}): ClipVisionOutput {
    const v = this.config.vision;
    const eps = this.config.layerNormEps;
    if (pixels.rank !== 4 || pixels.shape[1] !== 3)
      throw new ShapeError(`ClipVisionTransformer: pixels must be [B, 3, H, W], found [${pixels.shape.join(', ')}]`);
    const layers = [...(options.layers ?? [])];
    for (const l of layers) {
      if (!Number.isInteger(l) || l < 0 || l >= v.layers) throw new ConfigError(`ClipVisionTransformer: layer ${l} is out of range [0, ${v.layers - 1}]`);
    }
    const wantHidden = options.hiddenStates ?? false;
    let grid: [number, number] = [0, 0];
    const result = tf.tidy(() => {
      const embedded = patchEmbedding(pixels, this.conv1);
      grid = embedded.grid;
      const [b, , w] = embedded.tokens.shape;
      const cls = tf.broadcastTo(tf.reshape(this.classEmbedding, [1, 1, w]), [b, 1, w]);
      const pos = this.positionalEmbeddingFor(grid);
      let x = tf.add(tf.concat([cls, embedded.tokens], 1), pos) as tf.Tensor3D;
      x = layerNorm(x, this.lnPreWeight, this.lnPreBias, eps) as tf.Tensor3D;
      const lnPre = x;
      const keep = new Set(layers);
      const hidden = new Map<number, tf.Tensor3D>();
      const hiddenVV = new Map<number, tf.Tensor3D>();
      let xVV: tf.Tensor3D | null = null;
      for (let i = 0; i < v.layers; i++) {
        const blk = this.blocks[i]!;
        const inOri = x;
        const inVV = xVV;
        if (i >= this.firstVVBlock) [xVV, x] = dualPathBlock(inVV ?? inOri, inOri, blk, v.heads, eps);
        else x = residualBlock(inOri, blk, v.heads, eps);
        // Free what no later step needs (the peak memory of deep towers at large inputs).
        const inputKept = i === 0 ? options.lnPre === true : keep.has(i - 1);
        if (!inputKept) {
          inOri.dispose();
          inVV?.dispose();
        }
        if (keep.has(i)) {
          hidden.set(i, x);
          if (xVV) hiddenVV.set(i, xVV);
        }
      }
      const post = (t: tf.Tensor) => layerNorm(t, this.lnPostWeight, this.lnPostBias, eps);
      const xCls = tf.squeeze(tf.slice(x, [0, 0, 0], [-1, 1, -1]), [1]);
      const out: Record<string, tf.Tensor | tf.Tensor[] | (tf.Tensor | null)[]> = {
        imageEmbeds: project(post(xCls), this.proj),
        globalFeature: project(xCls, this.proj),
        projectedTokens: layers.map((l) => project(post(hiddenVV.get(l) ?? hidden.get(l)!), this.proj)),
      };
      if (wantHidden) {
        out.hiddenStates = layers.map((l) => tf.clone(hidden.get(l)!));
        out.vvHiddenStates = layers.map((l) => (hiddenVV.has(l) ? tf.clone(hiddenVV.get(l)!) : null));
      }
      if (options.lnPre) out.lnPre = tf.clone(lnPre);
      // tf.tidy keeps tensors found in returned objects and arrays; nulls are skipped.
      return out as unknown as tf.TensorContainer;
    }) as unknown as Omit<ClipVisionOutput, 'grid'>;
    return { ...result, grid };
  }

  /**
   * The {@link ImageEncoder} view: `cls` is openai's `encode_image` (`ln_post` CLS, projected) and the
   * patch tokens of each layer are `ln_post(tokens) @ proj` without CLS (V-V tokens for V-V blocks).
   */
  encodeImage(pixels: tf.Tensor4D, options: EncodeImageOptions = {}): ImageEncoding {
    const layers = options.layers ?? [this.config.vision.layers - 1];
    const out = this.forward(pixels, { layers });
    out.globalFeature.dispose();
    const patchTokens = out.projectedTokens.map((t) => {
      const s = tf.slice(t, [0, 1, 0], [-1, -1, -1]) as tf.Tensor3D;
      t.dispose();
      return s;
    });
    return { cls: out.imageEmbeds, patchTokens, grid: out.grid };
  }

  /** {@link encodeImage}, awaited: the asynchronous side of {@link ImageEncoder} that every executor offers. */
  async encode(pixels: tf.Tensor4D, options: EncodeImageOptions = {}): Promise<ImageEncoding> {
    return this.encodeImage(pixels, options);
  }

  /** Disposes the weights of the model this tower belongs to. */
  dispose(): void {
    this.onDispose();
  }
}
