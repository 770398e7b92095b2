import * as tf from '@tensorflow/tfjs-core';
import { ParameterStore, type LoadOptions, type LoadReport, type HostTensor, type SafetensorsReader, ConfigError } from '@hgm/tensor';
import type { EncodeImageOptions, ImageEncoder, ImageEncoderInfo, ImageEncoding } from '../encoder';
import { layerNorm } from '@hgm/nn';
import type { StateDictEntry } from './state-dict-keys';
import type { RopeTables } from './rope';
import { vitBlock, type AffineWeights, type VitBlockOptions, type VitBlockWeights } from './vit-block';

/** `forward_features` of the references (eval, no masks). */
export interface DinoFeatures {
  /** `x_norm_clstoken`: CLS after the final norm. [B, D] */
  clsToken: tf.Tensor2D;
  /** `x_norm_regtokens` (DINOv2) / `x_storage_tokens` (DINOv3): register tokens after the final norm. [B, R, D] */
  registerTokens: tf.Tensor3D;
  /** `x_norm_patchtokens`: patch tokens after the final norm, row-major over the grid. [B, N, D] */
  patchTokens: tf.Tensor3D;
  /** `x_prenorm`: all tokens `[cls, registers, patches]` out of the last block. [B, 1 + R + N, D] */
  prenorm: tf.Tensor3D;
  /** Patch grid [gridH, gridW]. */
  grid: [number, number];
}

/** Options of {@link DinoVisionTransformer.getIntermediateLayers}, as the references' keyword arguments. */
export interface IntermediateLayersOptions {
  /** The last `n` blocks (a number, default 1) or these 0-based block indices (any order, no repeats). */
  n?: number | readonly number[];
  /** Apply the final norm to each block output (default true). */
  norm?: boolean;
  /** Return patch tokens as [B, D, gridH, gridW] instead of [B, N, D] (default false). */
  reshape?: boolean;
}

/** One entry of {@link DinoVisionTransformer.getIntermediateLayers}: everything `return_class_token` / `return_extra_tokens` give. */
export interface IntermediateLayer {
  /** 0-based block index. */
  layer: number;
  /** [B, N, D], or [B, D, gridH, gridW] with `reshape`. */
  patchTokens: tf.Tensor3D | tf.Tensor4D;
  /** [B, D] */
  classToken: tf.Tensor2D;
  /** Register / storage tokens. [B, R, D] */
  extraTokens: tf.Tensor3D;
}

/** Construction options shared by the DINO encoders. */
export interface DinoEncoderOptions {
  /**
   * Whether {@link DinoVisionTransformer.encodeImage} passes the tapped block outputs through the final norm
   * (`get_intermediate_layers(norm=True)`, the references' default and what DINO dense heads use). Default true.
   */
  normalizeTaps?: boolean;
}

/** What a subclass supplies: its token preparation and per-forward block extras (RoPE). */
export interface PreparedTokens {
  /** [B, 1 + R + N, D] */
  tokens: tf.Tensor3D;
  grid: [number, number];
  /** RoPE tables of this grid (DINOv3); disposed after the blocks ran. */
  rope?: RopeTables;
}

/**
 * The part DINOv2 and DINOv3 share: frozen parameters under their official names, the block loop with taps,
 * `forward_features`, `get_intermediate_layers` and the {@link ImageEncoder} view.
 */
export abstract class DinoVisionTransformer implements ImageEncoder {
  readonly params = new ParameterStore();
  abstract readonly info: ImageEncoderInfo;
  protected readonly normalizeTaps: boolean;
  private blockWeightsCache?: VitBlockWeights[];

  protected constructor(
    protected readonly expectedKeys: StateDictEntry[],
    protected readonly depth: number,
    /** CLS + register/storage tokens in front of the patches. */
    protected readonly numPrefixTokens: number,
    /** Heads and LayerNorm eps of the blocks (the eps also of the final norm). */
    protected readonly blockOptions: VitBlockOptions,
    options: DinoEncoderOptions,
  ) {
    for (const e of expectedKeys) this.params.add(e.name, tf.zeros(e.shape), { trainable: false });
    this.normalizeTaps = options.normalizeTaps ?? true;
  }

  /** Number of register / storage tokens. */
  get numRegisterTokens(): number {
    return this.numPrefixTokens - 1;
  }

  /** The official key names and shapes this model loads. */
  stateDictKeys(): StateDictEntry[] {
    return this.expectedKeys.map((e) => ({ ...e, shape: [...e.shape] }));
  }

  /**
   * Loads official-name weights; strict by default: throws a `StateDictError` listing every missing,
   * unexpected and mis-shaped key and changes nothing.
   */
  async loadStateDict(entries: Map<string, HostTensor> | SafetensorsReader, options: LoadOptions = {}): Promise<LoadReport> {
    return this.params.loadStateDict(entries, options);
  }

  /** Loads `entries` into a freshly built `model` (strict unless `load` says otherwise); disposes the model when loading fails. */
  protected static async loaded<M extends DinoVisionTransformer>(
    model: M,
    entries: Map<string, HostTensor> | SafetensorsReader,
    load?: LoadOptions,
  ): Promise<M> {
    try {
      await model.loadStateDict(entries, load);
    } catch (e) {
      model.dispose();
      throw e;
    }
    return model;
  }

  protected abstract prepareTokens(pixels: tf.Tensor4D): PreparedTokens;
  protected abstract normWeights(): { patch: AffineWeights; cls: AffineWeights };

  protected p(name: string): tf.Tensor {
    return this.params.get(name);
  }

  protected maybe(name: string): tf.Tensor | undefined {
    return this.params.has(name) ? this.params.get(name) : undefined;
  }

  private blockWeights(): VitBlockWeights[] {
    if (!this.blockWeightsCache) {
      const aff = (n: string): AffineWeights => {
        const bias = this.maybe(`${n}.bias`);
        return bias ? { weight: this.p(`${n}.weight`), bias } : { weight: this.p(`${n}.weight`) };
      };
      this.blockWeightsCache = Array.from({ length: this.depth }, (_, i) => {
        const pre = `blocks.${i}.`;
        const w: VitBlockWeights = {
          norm1: aff(`${pre}norm1`),
          qkv: aff(`${pre}attn.qkv`),
          proj: aff(`${pre}attn.proj`),
          norm2: aff(`${pre}norm2`),
          fc1: aff(`${pre}mlp.fc1`),
          fc2: aff(`${pre}mlp.fc2`),
        };
        const mask = this.maybe(`${pre}attn.qkv.bias_mask`);
        if (mask) w.qkvBiasMask = mask;
        const ls1 = this.maybe(`${pre}ls1.gamma`);
        const ls2 = this.maybe(`${pre}ls2.gamma`);
        if (ls1) w.ls1 = ls1;
        if (ls2) w.ls2 = ls2;
        return w;
      });
    }
    return this.blockWeightsCache;
  }

  /**
   * Runs the blocks, keeping the outputs of the blocks in `taps`.
   * @returns the last block's output [B, T, D], the kept outputs by block index, and the grid
   */
  protected runBlocks(pixels: tf.Tensor4D, taps: ReadonlySet<number>): { last: tf.Tensor3D; kept: Map<number, tf.Tensor3D>; grid: [number, number] } {
    const prepared = this.prepareTokens(pixels);
    const options: VitBlockOptions = prepared.rope ? { ...this.blockOptions, rope: prepared.rope } : this.blockOptions;
    const kept = new Map<number, tf.Tensor3D>();
    let x = prepared.tokens;
    try {
      const weights = this.blockWeights();
      for (let i = 0; i < this.depth; i++) {
        const next = vitBlock(x, weights[i]!, options);
        if (i === 0 || !taps.has(i - 1)) x.dispose();
        x = next;
        if (taps.has(i)) kept.set(i, x);
      }
    } catch (e) {
      if (!x.isDisposed) x.dispose();
      for (const t of kept.values()) if (!t.isDisposed) t.dispose();
      throw e;
    } finally {
      if (prepared.rope) tf.dispose([prepared.rope.sin, prepared.rope.cos]);
    }
    // The last output is returned as `last`; when it is also kept it is shared, so clone the kept one.
    if (kept.has(this.depth - 1)) kept.set(this.depth - 1, tf.clone(x));
    return { last: x, kept, grid: prepared.grid };
  }

  /**
   * The final norm of [cls, registers, patches] tokens (DINOv3 with `untie_cls_and_patch_norms` normalises
   * the prefix with `cls_norm`).
   * @param x [B, T, D]
   */
  protected finalNorm(x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const { patch, cls } = this.normWeights();
      const eps = this.blockOptions.eps;
      if (patch === cls) return layerNorm(x, patch.weight, patch.bias, eps) as tf.Tensor3D;
      const [b, t, d] = x.shape;
      const k = this.numPrefixTokens;
      const prefix = layerNorm(tf.slice(x, [0, 0, 0], [b, k, d]), cls.weight, cls.bias, eps);
      const rest = layerNorm(tf.slice(x, [0, k, 0], [b, t - k, d]), patch.weight, patch.bias, eps);
      return tf.concat([prefix, rest], 1) as tf.Tensor3D;
    });
  }

  /** Splits [B, T, D] tokens into CLS [B, D], registers [B, R, D], patches [B, N, D]. */
  protected splitTokens(x: tf.Tensor3D): { cls: tf.Tensor2D; registers: tf.Tensor3D; patches: tf.Tensor3D } {
    const [b, t, d] = x.shape;
    const r = this.numPrefixTokens - 1;
    return {
      cls: tf.reshape(tf.slice(x, [0, 0, 0], [b, 1, d]), [b, d]) as tf.Tensor2D,
      registers: tf.slice(x, [0, 1, 0], [b, r, d]),
      patches: tf.slice(x, [0, 1 + r, 0], [b, t - 1 - r, d]),
    };
  }

  /**
   * The reference's `forward_features(x)` (no masks).
   * @param pixels [B, C, H, W], H and W multiples of the patch size
   */
  forwardFeatures(pixels: tf.Tensor4D): DinoFeatures {
    const { last, grid } = this.runBlocks(pixels, new Set());
    const out = tf.tidy(() => {
      const s = this.splitTokens(this.finalNorm(last));
      return { clsToken: s.cls, registerTokens: s.registers, patchTokens: s.patches };
    });
    return { ...out, prenorm: last, grid };
  }

  /** The 0-based blocks the reference's `n` selects, ascending (as the reference returns them). */
  selectBlocks(n: number | readonly number[] = 1): number[] {
    if (typeof n === 'number') {
      if (!Number.isInteger(n) || n < 1 || n > this.depth)
        throw new ConfigError(`getIntermediateLayers: n must be an integer in [1, ${this.depth}], found ${n}`);
      return Array.from({ length: n }, (_, i) => this.depth - n + i);
    }
    const seen = new Set<number>();
    for (const i of n) {
      if (!Number.isInteger(i) || i < 0 || i >= this.depth) throw new ConfigError(`getIntermediateLayers: block index ${i} is outside [0, ${this.depth - 1}]`);
      if (seen.has(i)) throw new ConfigError(`getIntermediateLayers: block index ${i} is asked twice`);
      seen.add(i);
    }
    if (seen.size === 0) throw new ConfigError('getIntermediateLayers: no block index given');
    return [...seen].sort((a, b) => a - b);
  }

  /**
   * The reference's `get_intermediate_layers(x, n=..., reshape=..., return_class_token=True,
   * return_extra_tokens=True, norm=...)`, ascending block order.
   * @param pixels [B, C, H, W]
   */
  getIntermediateLayers(pixels: tf.Tensor4D, options: IntermediateLayersOptions = {}): IntermediateLayer[] {
    const blocks = this.selectBlocks(options.n ?? 1);
    const norm = options.norm ?? true;
    const { last, kept, grid } = this.runBlocks(pixels, new Set(blocks));
    last.dispose();
    return blocks.map((layer) => {
      const raw = kept.get(layer)!;
      const entry = tf.tidy(() => {
        const s = this.splitTokens(norm ? this.finalNorm(raw) : raw);
        const [b, , d] = s.patches.shape;
        const patchTokens = options.reshape ? (tf.transpose(tf.reshape(s.patches, [b, grid[0], grid[1], d]), [0, 3, 1, 2]) as tf.Tensor4D) : s.patches;
        return { patchTokens, classToken: s.cls, extraTokens: s.registers };
      });
      raw.dispose();
      return { layer, ...entry };
    });
  }

  /**
   * {@link ImageEncoder.encodeImage}: `cls` is CLS after the final norm; `patchTokens` are the outputs of the
   * requested blocks (default: the last), in the order asked, through the final norm unless the model was
   * built with `normalizeTaps: false`.
   * @param pixels [B, C, H, W] normalised images
   */
  encodeImage(pixels: tf.Tensor4D, options: EncodeImageOptions = {}): ImageEncoding {
    const layers = options.layers ?? [this.depth - 1];
    const unique = this.selectBlocks([...new Set(layers)]);
    const { last, kept, grid } = this.runBlocks(pixels, new Set(unique));
    const result = tf.tidy(() => {
      const cls = this.splitTokens(this.finalNorm(last)).cls;
      const patchTokens = layers.map((l) => {
        const raw = kept.get(l)!;
        return this.splitTokens(this.normalizeTaps ? this.finalNorm(raw) : raw).patches;
      });
      return { cls, patchTokens };
    });
    last.dispose();
    for (const t of kept.values()) t.dispose();
    return { ...result, grid };
  }

  /** {@link encodeImage}, awaited: the asynchronous side of {@link ImageEncoder} that every executor offers. */
  async encode(pixels: tf.Tensor4D, options: EncodeImageOptions = {}): Promise<ImageEncoding> {
    return this.encodeImage(pixels, options);
  }

  /** Disposes every parameter. */
  dispose(): void {
    this.params.dispose();
    this.blockWeightsCache = undefined;
  }
}
