import type * as tf from '@tensorflow/tfjs-core';
import { disposeOwned } from '@hgm/tensor';

/**
 * What prompt assembly needs from a text encoder: its token-embedding width, its sequence length, a
 * tokenizer and the (frozen) token-embedding lookup. `@hgm/backbone`'s CLIP text encoder provides these;
 * tests can pass a small table.
 */
export interface PromptTextSpec {
  /** Token-embedding width Dt (CLIP's transformer width). */
  readonly width: number;
  /** Sequence length L of the text transformer (77 for CLIP). */
  readonly contextLength: number;
  /** Token ids of a text, start and end tokens included, zero-padded to {@link contextLength}. */
  tokenize(text: string): Int32Array;
  /**
   * Looks up token embeddings.
   * @param ids [n] token ids
   * @returns [n, Dt]
   */
  embedTokens(ids: Int32Array): tf.Tensor2D;
}

/** A batch of prompts ready for a text encoder that takes token embeddings. */
export interface PromptBatch {
  /** Token embeddings (before the positional embedding). [N, L, Dt] */
  embeddings: tf.Tensor3D;
  /** Token ids of each row (placeholders included); length N, each of length L. */
  tokenIds: Int32Array[];
  /** Position of the end-of-text token of each row (argmax of the ids, as CLIP pools). Length N. */
  eotIndices: number[];
  /**
   * Learnable tokens that replace positions 1..t of the sequence inside text blocks 1..depth-1
   * (AnomalyCLIP's compound prompts); entry k is used in block k + 1. Each [t, Dt]. Empty when off.
   */
  deepTokens: tf.Tensor2D[];
}

/** Index of the largest id (the end-of-text token in CLIP's vocabulary), first on ties as torch.argmax. */
export function argmaxIndex(ids: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < ids.length; i++) if (ids[i]! > ids[best]!) best = i;
  return best;
}

/** Disposes the tensors of a {@link PromptBatch} that the batch owns (embeddings only: deep tokens are parameters). */
export function disposePromptBatch(batch: PromptBatch): void {
  disposeOwned(batch, { except: ['deepTokens'] });
}
