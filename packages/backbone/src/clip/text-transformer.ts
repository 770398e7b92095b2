import * as tf from '@tensorflow/tfjs-core';
import { layerNorm, project, causalMask, recomputeInBackward } from '@hgm/nn';
import type { ClipConfig } from './config';
import { residualBlock, residualBlockWeights, type ResidualBlockWeights } from './residual-block';
import type { ClipTextForwardOptions, ClipTextInput, ClipTextOutput } from './types';
import type { WeightLookup } from './vision-transformer';
import { ConfigError, ShapeError } from '@hgm/tensor';

/**
 * The text tower of OpenAI CLIP: token + positional embeddings, causal residual blocks, `ln_final`,
 * pooling at EOT, `text_projection`. Accepts token ids or token embeddings (learnable prompts) and
 * AnomalyCLIP's compound prompt tokens. Differentiable with respect to the embeddings and the compound
 * tokens (the weights are frozen).
 *
 * Build it with `ClipModel` (which owns the weights).
 */
export class ClipTextTransformer {
  private readonly blocks: ResidualBlockWeights[];
  private readonly tokenEmbedding: tf.Tensor2D;
  private readonly positionalEmbedding: tf.Tensor2D;
  private readonly lnFinalWeight: tf.Tensor1D;
  private readonly lnFinalBias: tf.Tensor1D;
  private readonly textProjection: tf.Tensor2D;

  constructor(
    readonly config: ClipConfig,
    weights: WeightLookup,
  ) {
    this.tokenEmbedding = weights('token_embedding.weight') as tf.Tensor2D;
    this.positionalEmbedding = weights('positional_embedding') as tf.Tensor2D;
    this.lnFinalWeight = weights('ln_final.weight') as tf.Tensor1D;
    this.lnFinalBias = weights('ln_final.bias') as tf.Tensor1D;
    this.textProjection = weights('text_projection') as tf.Tensor2D;
    this.blocks = Array.from({ length: config.text.layers }, (_, i) => residualBlockWeights(weights, `transformer.resblocks.${i}.`));
  }

  /**
   * Token embedding lookup (`token_embedding(ids)`), without the positional embedding.
   * @param tokenIds [B, L] int32
   * @returns [B, L, Dt]
   */
  embedTokens(tokenIds: tf.Tensor2D): tf.Tensor3D {
    if (tokenIds.rank !== 2) throw new ShapeError(`ClipTextTransformer.embedTokens: token ids must be [B, L], found [${tokenIds.shape.join(', ')}]`);
    return tf.tidy(() => {
      const ids = tokenIds.dtype === 'int32' ? tokenIds : tf.cast(tokenIds, 'int32');
      const [b, l] = ids.shape;
      const e = tf.gather(this.tokenEmbedding, tf.reshape(ids, [-1]));
      return tf.reshape(e, [b, l, this.config.text.width]) as tf.Tensor3D;
    });
  }

  /** openai `CLIP.encode_text`: EOT = argmax of the ids. [B, E] */
  encodeText(tokenIds: tf.Tensor2D): tf.Tensor2D {
    return this.forward({ tokenIds }).textEmbeds;
  }

  /**
   * Runs the tower.
   * @returns text embeddings [B, E] and, on request, block outputs [B, L, Dt]
   */
  forward(input: ClipTextInput, options: ClipTextForwardOptions = {}): ClipTextOutput {
    const t = this.config.text;
    const eps = this.config.layerNormEps;
    const { tokenIds, tokenEmbeddings, eotIndices, compoundPrompts = [] } = input;
    if (!tokenIds && !tokenEmbeddings) throw new ConfigError('ClipTextTransformer: give tokenIds or tokenEmbeddings');
    if (tokenEmbeddings && !tokenIds && !eotIndices) throw new ConfigError('ClipTextTransformer: tokenEmbeddings need tokenIds or eotIndices to locate EOT');
    const shape = tokenEmbeddings ? tokenEmbeddings.shape : tokenIds!.shape;
    const [b, l] = shape;
    if (l !== t.contextLength) throw new ShapeError(`ClipTextTransformer: sequences must have ${t.contextLength} tokens, found ${l}`);
    if (tokenEmbeddings && (tokenEmbeddings.rank !== 3 || tokenEmbeddings.shape[2] !== t.width)) {
      throw new ShapeError(`ClipTextTransformer: tokenEmbeddings must be [B, ${t.contextLength}, ${t.width}], found [${tokenEmbeddings.shape.join(', ')}]`);
    }
    if (tokenIds && tokenIds.shape[0] !== b) throw new ShapeError(`ClipTextTransformer: tokenIds have ${tokenIds.shape[0]} rows, embeddings ${b}`);
    if (eotIndices && (eotIndices.rank !== 1 || eotIndices.shape[0] !== b))
      throw new ShapeError(`ClipTextTransformer: eotIndices must be [${b}], found [${eotIndices.shape.join(', ')}]`);
    compoundPrompts.forEach((c, k) => {
      if (c.rank !== 2 || c.shape[1] !== t.width || c.shape[0] < 1 || c.shape[0] + 1 > l) {
        throw new ShapeError(`ClipTextTransformer: compound prompt ${k} must be [n, ${t.width}] with 1 <= n < ${l}, found [${c.shape.join(', ')}]`);
      }
    });
    const requested = options.hiddenStates === true ? Array.from({ length: t.layers }, (_, i) => i) : [...(options.hiddenStates || [])];
    for (const i of requested)
      if (!Number.isInteger(i) || i < 0 || i >= t.layers) throw new ConfigError(`ClipTextTransformer: layer ${i} is out of range [0, ${t.layers - 1}]`);
    const keep = new Set(requested);
    const used = requested.length === 0 && input.usedLength !== undefined ? input.usedLength : l;
    const longestCompound = Math.max(0, ...compoundPrompts.map((c) => c.shape[0]));
    if (!Number.isInteger(used) || used < Math.max(1, longestCompound + 1) || used > l)
      throw new ConfigError(
        `ClipTextTransformer: usedLength must be an integer in [${Math.max(1, longestCompound + 1)}, ${l}] (past every compound prompt token), found ${used}`,
      );

    const out = tf.tidy(() => {
      const emb = tokenEmbeddings ?? this.embedTokens(tokenIds!);
      let x = tf.add(emb, this.positionalEmbedding) as tf.Tensor3D;
      if (used < l) x = tf.slice(x, [0, 0, 0], [b, used, t.width]);
      const mask = causalMask(used);
      const hidden = new Map<number, tf.Tensor3D>();
      for (let i = 0; i < t.layers; i++) {
        const compound = i >= 1 ? compoundPrompts[i - 1] : undefined;
        if (compound) x = replaceTokens(x, compound, 1);
        const w = this.blocks[i]!;
        x = options.recompute
          ? (recomputeInBackward(([y], [m]) => residualBlock(y as tf.Tensor3D, w, t.heads, eps, m))([x], [mask]) as tf.Tensor3D)
          : residualBlock(x, w, t.heads, eps, mask);
        if (keep.has(i)) hidden.set(i, x);
      }
      const normed = layerNorm(x, this.lnFinalWeight, this.lnFinalBias, eps);
      const eot = eotIndices ? tf.cast(eotIndices, 'int32') : tf.cast(tf.argMax(tokenIds!, -1), 'int32');
      // Pool at EOT with a one-hot matmul (differentiable on every backend; a gather's gradient needs
      // UnsortedSegmentSum, which the wasm backend lacks).
      const positions = tf.reshape(tf.range(0, used, 1, 'int32'), [1, used]);
      const select = tf.cast(tf.equal(positions, tf.reshape(eot, [b, 1])), 'float32');
      const pooled = tf.reshape(tf.matMul(tf.reshape(select, [b, 1, used]), normed), [b, t.width]);
      return { textEmbeds: project(pooled, this.textProjection), hiddenStates: requested.map((i) => tf.clone(hidden.get(i)!)) };
    }) as { textEmbeds: tf.Tensor2D; hiddenStates: tf.Tensor3D[] };
    if (options.hiddenStates === undefined || options.hiddenStates === false) return { textEmbeds: out.textEmbeds };
    return { textEmbeds: out.textEmbeds, hiddenStates: out.hiddenStates, hiddenStateLayers: requested };
  }
}

/**
 * Replaces tokens `start .. start + n - 1` of every row by the same n tokens.
 * @param x [B, L, D]
 * @param tokens [n, D]
 * @returns [B, L, D]
 */
export function replaceTokens(x: tf.Tensor3D, tokens: tf.Tensor2D, start: number): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, l, d] = x.shape;
    const n = tokens.shape[0];
    const head = tf.slice(x, [0, 0, 0], [b, start, d]);
    const tail = tf.slice(x, [0, start + n, 0], [b, l - start - n, d]);
    const mid = tf.broadcastTo(tf.reshape(tokens, [1, n, d]), [b, n, d]);
    return tf.concat([head, mid, tail], 1) as tf.Tensor3D;
  });
}
