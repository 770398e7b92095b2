import * as tf from '@tensorflow/tfjs-core';
import type { ParameterStore, Rng } from '@hgm/tensor';
import { linear } from '@hgm/nn';
import { OBJECT_AGNOSTIC, learnablePromptText } from './templates';
import { argmaxIndex, type PromptBatch, type PromptTextSpec } from './text-spec';
import { spliceSequence } from './splice';
import { ConfigError, ShapeError } from '@hgm/tensor';

/**
 * Dynamic State Prompts (method step 4):
 * p_n = [V_1..V_E][W_1][G_N~][object], p_a = [V'_1..V'_E][W'_1][G_A~][object].
 */
export interface DynamicStatePromptConfig {
  /** E: learnable context tokens per state (AnomalyCLIP's n_ctx). Default 12. */
  contextTokens: number;
  /** Class word (object-agnostic). Default "object". */
  className: string;
  /**
   * Choice: W_1 / W'_1 are one state-word token per state, initialised from the embedding of these words
   * (each must be a single token). Default "normal" / "damaged".
   */
  stateWords: { normal: string; anomaly: string };
  /** Choice: whether W_1 / W'_1 train (true) or stay the words' frozen embeddings. Default true. */
  learnStateWords: boolean;
  /**
   * Choice (from AnomalyCLIP): deep learnable text tokens in blocks 1..depth-1; 1 turns them off.
   * Default 9.
   */
  deepPromptDepth: number;
  /** Deep tokens per block (replacing positions 1..t). Default 4. */
  deepPromptLength: number;
  /** Std of the normal initialisation of context and deep tokens. Default 0.02. */
  initStd: number;
}

export const DEFAULT_DYNAMIC_STATE_PROMPT_CONFIG: Readonly<DynamicStatePromptConfig> = Object.freeze({
  contextTokens: 12,
  className: OBJECT_AGNOSTIC.className,
  stateWords: Object.freeze({ normal: 'normal', anomaly: 'damaged' }),
  learnStateWords: true,
  deepPromptDepth: 9,
  deepPromptLength: 4,
  initStd: 0.02,
});

/** Fills defaults and validates. */
export function resolveDynamicStatePromptConfig(partial: Partial<DynamicStatePromptConfig> = {}): DynamicStatePromptConfig {
  const c: DynamicStatePromptConfig = {
    ...DEFAULT_DYNAMIC_STATE_PROMPT_CONFIG,
    ...partial,
    stateWords: { ...DEFAULT_DYNAMIC_STATE_PROMPT_CONFIG.stateWords, ...partial.stateWords },
  };
  for (const [name, min] of [
    ['contextTokens', 1],
    ['deepPromptDepth', 1],
    ['deepPromptLength', 1],
  ] as const) {
    const v = c[name];
    if (!Number.isInteger(v) || v < min) throw new ConfigError(`dynamic state prompt config: ${name} must be an integer >= ${min}, got ${v}`);
  }
  if (!(c.initStd > 0)) throw new ConfigError(`dynamic state prompt config: initStd must be > 0, got ${c.initStd}`);
  if (!c.className) throw new ConfigError('dynamic state prompt config: className must be a non-empty word');
  if (!c.stateWords.normal || !c.stateWords.anomaly)
    throw new ConfigError('dynamic state prompt config: stateWords.normal and stateWords.anomaly must be words');
  return c;
}

/**
 * Builds the per-image prompts of the Dual-Anchor model. Parameters (names under the prefix, `dsp.` by
 * default): `ctx_normal` / `ctx_anomaly` [E, Dt], `state_normal` / `state_anomaly` [1, Dt] (when
 * learnable), `group_projection.weight` [Dt, D] / `.bias` [Dt] (choice: a linear map of the group token to
 * the token-embedding width, torch's default uniform init), `compound_prompts_text.{k}` [t, Dt].
 */
export class DynamicStatePrompts {
  readonly config: DynamicStatePromptConfig;
  private constructor(
    config: DynamicStatePromptConfig,
    readonly width: number,
    readonly groupDim: number,
    private readonly ids: Int32Array,
    private readonly prefixEmbedding: tf.Tensor2D,
    private readonly suffixEmbedding: tf.Tensor2D,
    readonly contextNormal: tf.Variable,
    readonly contextAnomaly: tf.Variable,
    /** [1, Dt] each: variables when learnable, constants otherwise. */
    readonly stateNormal: tf.Tensor2D,
    readonly stateAnomaly: tf.Tensor2D,
    readonly projectionWeight: tf.Variable,
    readonly projectionBias: tf.Variable,
    readonly deepTokens: tf.Variable[],
  ) {
    this.config = config;
  }

  /**
   * @param groupDim D, the width of the group tokens
   * @param rng initialises every learnable tensor
   */
  static create(
    store: ParameterStore,
    text: PromptTextSpec,
    groupDim: number,
    rng: Rng,
    partial: Partial<DynamicStatePromptConfig> = {},
    prefix = 'dsp.',
  ): DynamicStatePrompts {
    const c = resolveDynamicStatePromptConfig(partial);
    const e = c.contextTokens;
    const dt = text.width;
    if (!Number.isInteger(groupDim) || groupDim < 1) throw new ConfigError(`dynamic state prompts: groupDim must be a positive integer, got ${groupDim}`);
    if (1 + e + 2 + 2 > text.contextLength)
      throw new ConfigError(`dynamic state prompts: ${e} context tokens do not fit a text sequence of ${text.contextLength}`);
    // "X" placeholders: E context tokens, the state word slot and the group token slot.
    const ids = text.tokenize(learnablePromptText(e + 2, '{}', c.className));
    const emb = text.embedTokens(ids);
    const prefixEmbedding = tf.slice(emb, [0, 0], [1, dt]) as tf.Tensor2D;
    const suffixEmbedding = tf.slice(emb, [e + 3, 0], [text.contextLength - e - 3, dt]) as tf.Tensor2D;
    emb.dispose();
    const wordEmbedding = (word: string): tf.Tensor2D => {
      const wordIds = text.tokenize(word);
      const eot = argmaxIndex(wordIds);
      if (eot !== 2) throw new ConfigError(`dynamic state prompts: state word ${JSON.stringify(word)} must be one token, found ${eot - 1}`);
      const all = text.embedTokens(wordIds.subarray(1, 2));
      return all;
    };
    const stateN = wordEmbedding(c.stateWords.normal);
    const stateA = wordEmbedding(c.stateWords.anomaly);
    const contextNormal = store.add(`${prefix}ctx_normal`, rng.tensorNormal([e, dt], 0, c.initStd), { trainable: true });
    const contextAnomaly = store.add(`${prefix}ctx_anomaly`, rng.tensorNormal([e, dt], 0, c.initStd), { trainable: true });
    const stateNormal = c.learnStateWords ? (store.add(`${prefix}state_normal`, stateN, { trainable: true }) as unknown as tf.Tensor2D) : stateN;
    const stateAnomaly = c.learnStateWords ? (store.add(`${prefix}state_anomaly`, stateA, { trainable: true }) as unknown as tf.Tensor2D) : stateA;
    const bound = 1 / Math.sqrt(groupDim);
    const projectionWeight = store.add(`${prefix}group_projection.weight`, rng.tensorUniform([dt, groupDim], -bound, bound), { trainable: true });
    const projectionBias = store.add(`${prefix}group_projection.bias`, rng.tensorUniform([dt], -bound, bound), { trainable: true });
    const deep: tf.Variable[] = [];
    for (let k = 0; k < c.deepPromptDepth - 1; k++) {
      deep.push(store.add(`${prefix}compound_prompts_text.${k}`, rng.tensorNormal([c.deepPromptLength, dt], 0, c.initStd), { trainable: true }));
    }
    return new DynamicStatePrompts(
      c,
      dt,
      groupDim,
      ids,
      prefixEmbedding,
      suffixEmbedding,
      contextNormal,
      contextAnomaly,
      stateNormal,
      stateAnomaly,
      projectionWeight,
      projectionBias,
      deep,
    );
  }

  /** Learnable scalars: 2 E Dt + (2 Dt if the state words learn) + Dt D + Dt + (depth - 1) t Dt. */
  static parameterCount(partial: Partial<DynamicStatePromptConfig>, width: number, groupDim: number): number {
    const c = resolveDynamicStatePromptConfig(partial);
    return 2 * c.contextTokens * width + (c.learnStateWords ? 2 * width : 0) + width * groupDim + width + (c.deepPromptDepth - 1) * c.deepPromptLength * width;
  }

  /**
   * The projected group tokens G~ = G W^T + b.
   * @param groupTokens [..., D]
   * @returns [..., Dt]
   */
  projectGroups(groupTokens: tf.Tensor): tf.Tensor {
    return linear(groupTokens, this.projectionWeight, this.projectionBias);
  }

  /**
   * Per-image prompts, normal and anomalous interleaved: row 2b is p_n of image b, row 2b + 1 is p_a.
   * @param anchorNormal G_N [B, D]
   * @param anchorAnomaly G_A [B, D]
   * @returns embeddings [2B, L, Dt]
   */
  forward(anchorNormal: tf.Tensor2D, anchorAnomaly: tf.Tensor2D): PromptBatch {
    const [b, d] = anchorNormal.shape;
    if (d !== this.groupDim || anchorAnomaly.shape[0] !== b || anchorAnomaly.shape[1] !== d) {
      throw new ShapeError(
        `dynamic state prompts: anchors must both be [B, ${this.groupDim}], got [${anchorNormal.shape.join(', ')}] and [${anchorAnomaly.shape.join(', ')}]`,
      );
    }
    const embeddings = tf.tidy(() => {
      const gn = tf.expandDims(this.projectGroups(anchorNormal), 1);
      const ga = tf.expandDims(this.projectGroups(anchorAnomaly), 1);
      const pn = spliceSequence([this.prefixEmbedding, this.contextNormal, this.stateNormal, gn, this.suffixEmbedding], b);
      const pa = spliceSequence([this.prefixEmbedding, this.contextAnomaly, this.stateAnomaly, ga, this.suffixEmbedding], b);
      const l = pn.shape[1];
      return tf.reshape(tf.stack([pn, pa], 1), [2 * b, l, this.width]) as tf.Tensor3D;
    });
    const eot = argmaxIndex(this.ids);
    return {
      embeddings,
      tokenIds: Array.from({ length: 2 * b }, () => this.ids),
      eotIndices: Array.from({ length: 2 * b }, () => eot),
      deepTokens: this.deepTokens as unknown as tf.Tensor2D[],
    };
  }

  /** Frees the fixed embeddings (the parameters belong to the store). */
  dispose(): void {
    this.prefixEmbedding.dispose();
    this.suffixEmbedding.dispose();
    if (!this.config.learnStateWords) {
      this.stateNormal.dispose();
      this.stateAnomaly.dispose();
    }
  }
}
