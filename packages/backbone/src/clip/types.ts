import type * as tf from '@tensorflow/tfjs-core';
import { ConfigError, disposeOwned } from '@hgm/tensor';

/**
 * Construction-time options of the vision tower. Everything that changes the computation is set here,
 * once; nothing is patched after loading.
 */
export interface ClipVisionOptions {
  /**
   * Number of final blocks that run AnomalyCLIP's dual path with V-V attention ("DPAM"). 0 (default)
   * gives plain openai CLIP. AnomalyCLIP's `DPAM_layer = d` replaces the last `d - 1` blocks, so pass
   * {@link vvBlocksFromDpamLayer}(d) (ViT-L/14 with `DPAM_layer` 20: 19 blocks, 0-based 5..23).
   *
   * In such a block, with `y = ln_1(x_ori)` and q, k, v from the block's own `in_proj`:
   * `x_ori += out_proj(softmax(q kᵀ s) v); x_ori += mlp(ln_2(x_ori))` (the original path) and
   * `x_vv += out_proj(softmax(v vᵀ s) v)` (the V-V path, no MLP); the first such block starts with
   * `x_vv = x_ori`.
   */
  vvAttentionBlocks?: number;
}

/** AnomalyCLIP's `DPAM_layer` argument as a number of V-V blocks (`DPAM_layer - 1`; none for null). */
export function vvBlocksFromDpamLayer(dpamLayer: number | null | undefined): number {
  if (dpamLayer === null || dpamLayer === undefined) return 0;
  if (!Number.isInteger(dpamLayer) || dpamLayer < 1) throw new ConfigError(`DPAM_layer must be a positive integer or null, found ${dpamLayer}`);
  return dpamLayer - 1;
}

/** What {@link ClipVisionTransformer.forward} should return besides the global features. */
export interface ClipVisionForwardOptions {
  /**
   * 0-based indices of the blocks whose tokens to return (in this order); default none. AnomalyCLIP's
   * 1-based `features_list` [6, 12, 18, 24] is [5, 11, 17, 23] here.
   */
  layers?: readonly number[];
  /** Also return the raw block outputs (original path, and the V-V path of V-V blocks) of `layers`. */
  hiddenStates?: boolean;
  /** Also return the output of `ln_pre` (the input of block 0). */
  lnPre?: boolean;
}

/** Output of the vision tower. Every tensor belongs to the caller (see {@link disposeClipVisionOutput}). */
export interface ClipVisionOutput {
  /** openai `CLIP.encode_image`: `ln_post(x_ori[:, 0]) @ proj`, unnormalised. [B, E] */
  imageEmbeds: tf.Tensor2D;
  /**
   * AnomalyCLIP's global image feature (`AnomalyCLIP.encode_image(...)[0]`): `x_ori[:, 0] @ proj`
   * **without** `ln_post`, unnormalised. [B, E]
   */
  globalFeature: tf.Tensor2D;
  /**
   * For each requested layer: `ln_post(tokens) @ proj` over all tokens, CLS at index 0 (what AnomalyCLIP
   * calls its patch features; the model's patch features `[B, M, D]` are tokens 1..M after its adapters).
   * `tokens` is the V-V path for V-V blocks and the block output otherwise. [B, 1 + M, E]
   */
  projectedTokens: tf.Tensor3D[];
  /** With `hiddenStates`: the original-path output of each requested block. [B, 1 + M, W] */
  hiddenStates?: tf.Tensor3D[];
  /** With `hiddenStates`: the V-V path output of each requested block, null for plain blocks. [B, 1 + M, W] */
  vvHiddenStates?: (tf.Tensor3D | null)[];
  /** With `lnPre`: the output of `ln_pre`. [B, 1 + M, W] */
  lnPre?: tf.Tensor3D;
  /** Patch grid [gridH, gridW]; M = gridH * gridW, tokens row-major (y, x). */
  grid: [number, number];
}

/** Input of the text tower: token ids, or token embeddings with the ids (or indices) that locate EOT. */
export interface ClipTextInput {
  /**
   * Token ids [B, L] (int32, L = context length). Embedded when `tokenEmbeddings` is absent; otherwise
   * used only to find EOT as `argmax(ids)` (openai's and AnomalyCLIP's rule).
   */
  tokenIds?: tf.Tensor2D;
  /** Token embeddings [B, L, Dt] (learnable prompts), before the positional embedding is added. */
  tokenEmbeddings?: tf.Tensor3D;
  /** Explicit EOT positions, one per row [B] (int32); overrides the argmax of `tokenIds`. */
  eotIndices?: tf.Tensor1D;
  /**
   * AnomalyCLIP's compound (deep) prompt tokens: entry k is [nTokens, Dt]. In block i >= 1 with
   * i - 1 < length, the tokens at positions 1..nTokens are replaced by entry i - 1 before the block
   * runs; later blocks keep what is in the stream. Gradients flow into these tensors.
   */
  compoundPrompts?: readonly tf.Tensor2D[];
  /**
   * Positions the output reads: every EOT position is below it (and every compound prompt's). Under the causal
   * mask a position never sees a later one, so the tower runs on the first `usedLength` positions only (exact:
   * the pooled EOT tokens are the same; about 5x less work for a 16-token prompt). Ignored when block outputs
   * are requested (they have every position). Default: the context length.
   */
  usedLength?: number;
}

/** What {@link ClipTextTransformer.forward} should return besides the text embeddings. */
export interface ClipTextForwardOptions {
  /** 0-based blocks whose outputs to return; `true` for all. */
  hiddenStates?: boolean | readonly number[];
  /**
   * Under a gradient tape, recompute each block's activations in the backward pass instead of keeping them
   * (gradient checkpointing, `recomputeInBackward`): the tape then holds one block's intermediates at a time
   * plus the blocks' inputs. Same gradient, one more forward pass. Default false.
   */
  recompute?: boolean;
}

/** Output of the text tower. Every tensor belongs to the caller. */
export interface ClipTextOutput {
  /** `ln_final(x)[b, eot_b] @ text_projection`, unnormalised. [B, E] */
  textEmbeds: tf.Tensor2D;
  /** Requested block outputs, in the order asked (with `hiddenStates`). [B, L, Dt] */
  hiddenStates?: tf.Tensor3D[];
  /** The 0-based block index of each entry of `hiddenStates`. */
  hiddenStateLayers?: number[];
}

/** Disposes every tensor of a vision output. */
export function disposeClipVisionOutput(out: ClipVisionOutput): void {
  disposeOwned(out);
}

/** Disposes every tensor of a text output. */
export function disposeClipTextOutput(out: ClipTextOutput): void {
  disposeOwned(out);
}
