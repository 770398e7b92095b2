import * as tf from '@tensorflow/tfjs-core';
import type { ParameterStore, Rng } from '@hgm/tensor';
import { OBJECT_AGNOSTIC, learnablePromptText } from './templates';
import { argmaxIndex, type PromptBatch, type PromptTextSpec } from './text-spec';
import { spliceSequence } from './splice';
import { ConfigError, InvalidStateError } from '@hgm/tensor';

/** AnomalyCLIP's prompt learner settings (its `AnomalyCLIP_parameters`, with readable names). */
export interface AnomalyClipPromptConfig {
  /** n_ctx (`Prompt_length`): learnable context tokens in front of the state words. Default 12. */
  contextTokens: number;
  /**
   * `learnabel_text_embedding_depth`: deep learnable tokens are used in text blocks 1..depth-1, so
   * depth - 1 token sets exist (depth 1 turns them off). Default 9.
   */
  deepPromptDepth: number;
  /** t_n_ctx (`learnabel_text_embedding_length`): deep tokens per block, replacing positions 1..t. Default 4. */
  deepPromptLength: number;
  /** Class word (object-agnostic: "object"). */
  className: string;
  /** State phrase of the normal prompt, `{}` = class word. Default `'{}'`. */
  normalPhrase: string;
  /** State phrase of the anomalous prompt. Default `'damaged {}'`. */
  anomalyPhrase: string;
  /** Std of the normal initialisation of every learnable token (AnomalyCLIP: 0.02). */
  initStd: number;
}

export const DEFAULT_ANOMALYCLIP_PROMPT_CONFIG: Readonly<AnomalyClipPromptConfig> = Object.freeze({
  contextTokens: 12,
  deepPromptDepth: 9,
  deepPromptLength: 4,
  className: OBJECT_AGNOSTIC.className,
  normalPhrase: OBJECT_AGNOSTIC.states.normal[0]!,
  anomalyPhrase: OBJECT_AGNOSTIC.states.anomaly[0]!,
  initStd: 0.02,
});

/** Fills defaults and validates; errors name the field, the expected range and the value found. */
export function resolveAnomalyClipPromptConfig(partial: Partial<AnomalyClipPromptConfig> = {}): AnomalyClipPromptConfig {
  const c = { ...DEFAULT_ANOMALYCLIP_PROMPT_CONFIG, ...partial };
  const intAtLeast = (name: keyof AnomalyClipPromptConfig, min: number) => {
    const v = c[name] as number;
    if (!Number.isInteger(v) || v < min) throw new ConfigError(`AnomalyCLIP prompt config: ${name} must be an integer >= ${min}, got ${v}`);
  };
  intAtLeast('contextTokens', 1);
  intAtLeast('deepPromptDepth', 1);
  intAtLeast('deepPromptLength', 1);
  if (!(c.initStd > 0)) throw new ConfigError(`AnomalyCLIP prompt config: initStd must be > 0, got ${c.initStd}`);
  if (!c.className) throw new ConfigError('AnomalyCLIP prompt config: className must be a non-empty word');
  return c;
}

/** Reads AnomalyCLIP's own parameter names (`Prompt_length`, `learnabel_text_embedding_depth`, ...). */
export function fromAnomalyClipParameters(p: {
  Prompt_length: number;
  learnabel_text_embedding_depth: number;
  learnabel_text_embedding_length: number;
}): Partial<AnomalyClipPromptConfig> {
  return { contextTokens: p.Prompt_length, deepPromptDepth: p.learnabel_text_embedding_depth, deepPromptLength: p.learnabel_text_embedding_length };
}

/**
 * Keys of an AnomalyCLIP prompt-learner checkpoint that this learner does not hold as parameters
 * (regular expressions for `ParameterStore.loadStateDict`'s `ignore`, with the learner's prefix):
 * - `token_prefix_*`, `token_suffix_*`, `tokenized_prompts_*` are buffers recomputed from the frozen token
 *   embedding and the tokenizer (see {@link AnomalyClipPromptLearner.buffers} to compare them);
 * - `compound_prompt_projections.*` are linear layers AnomalyCLIP creates but never uses in its forward.
 */
export function anomalyClipIgnoredKeys(prefix = 'prompt_learner.'): string[] {
  const p = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return [`^${p}(token_prefix|token_suffix|tokenized_prompts)_(pos|neg)$`, `^${p}compound_prompt_projections\\.\\d+\\.(weight|bias)$`];
}

/** One fixed prompt row: its ids and the frozen embeddings around the learnable context. */
interface FixedRow {
  ids: Int32Array;
  /** [1, Dt] embedding of the start token. */
  prefix: tf.Tensor2D;
  /** [L - 1 - n_ctx, Dt] embeddings after the context placeholders. */
  suffix: tf.Tensor2D;
}

/**
 * AnomalyCLIP's object-agnostic prompt learner (prompt_ensemble.py `AnomalyCLIP_PromptLearner`):
 * g_n = [SOT][V_1..V_E][object.][EOT], g_a = [SOT][W_1..W_E][damaged object.][EOT], and deep learnable
 * tokens for the first text blocks. Parameter names follow AnomalyCLIP's state dict under a prefix
 * (`prompt_learner.` by default): `ctx_pos` / `ctx_neg` [1, 1, E, Dt] ("pos" is the normal prompt),
 * `compound_prompts_text.{k}` [t, Dt].
 */
export class AnomalyClipPromptLearner {
  readonly config: AnomalyClipPromptConfig;
  readonly contextNormal: tf.Variable;
  readonly contextAnomaly: tf.Variable;
  readonly deepTokens: tf.Variable[];
  private readonly rows: [FixedRow, FixedRow];

  private constructor(
    config: AnomalyClipPromptConfig,
    readonly prefix: string,
    readonly width: number,
    contextNormal: tf.Variable,
    contextAnomaly: tf.Variable,
    deepTokens: tf.Variable[],
    rows: [FixedRow, FixedRow],
  ) {
    this.config = config;
    this.contextNormal = contextNormal;
    this.contextAnomaly = contextAnomaly;
    this.deepTokens = deepTokens;
    this.rows = rows;
  }

  /**
   * Registers the learnable tokens in `store` (trainable) and computes the fixed embeddings.
   * @param rng initialises the learnable tokens (normal, std `initStd`)
   */
  static create(
    store: ParameterStore,
    text: PromptTextSpec,
    rng: Rng,
    partial: Partial<AnomalyClipPromptConfig> = {},
    prefix = 'prompt_learner.',
  ): AnomalyClipPromptLearner {
    const config = resolveAnomalyClipPromptConfig(partial);
    const e = config.contextTokens;
    const dt = text.width;
    if (1 + e + 2 > text.contextLength)
      throw new ConfigError(`AnomalyCLIP prompt learner: ${e} context tokens do not fit a text sequence of ${text.contextLength}`);
    if (1 + config.deepPromptLength > text.contextLength)
      throw new ConfigError(`AnomalyCLIP prompt learner: deepPromptLength ${config.deepPromptLength} does not fit a text sequence of ${text.contextLength}`);
    const row = (phrase: string): FixedRow => {
      const ids = text.tokenize(learnablePromptText(e, phrase, config.className));
      if (ids.length !== text.contextLength) throw new InvalidStateError(`tokenizer returned ${ids.length} ids, expected ${text.contextLength}`);
      const emb = text.embedTokens(ids);
      const prefixEmb = tf.slice(emb, [0, 0], [1, dt]) as tf.Tensor2D;
      const suffix = tf.slice(emb, [1 + e, 0], [text.contextLength - 1 - e, dt]) as tf.Tensor2D;
      emb.dispose();
      return { ids, prefix: prefixEmb, suffix };
    };
    const rows: [FixedRow, FixedRow] = [row(config.normalPhrase), row(config.anomalyPhrase)];
    const ctxShape = [1, 1, e, dt];
    const contextNormal = store.add(`${prefix}ctx_pos`, rng.tensorNormal(ctxShape, 0, config.initStd), { trainable: true });
    const contextAnomaly = store.add(`${prefix}ctx_neg`, rng.tensorNormal(ctxShape, 0, config.initStd), { trainable: true });
    const deep: tf.Variable[] = [];
    for (let k = 0; k < config.deepPromptDepth - 1; k++) {
      deep.push(store.add(`${prefix}compound_prompts_text.${k}`, rng.tensorNormal([config.deepPromptLength, dt], 0, config.initStd), { trainable: true }));
    }
    return new AnomalyClipPromptLearner(config, prefix, dt, contextNormal, contextAnomaly, deep, rows);
  }

  /** Number of learnable scalars: 2 E Dt + (depth - 1) t Dt. */
  static parameterCount(config: Partial<AnomalyClipPromptConfig>, width: number): number {
    const c = resolveAnomalyClipPromptConfig(config);
    return 2 * c.contextTokens * width + (c.deepPromptDepth - 1) * c.deepPromptLength * width;
  }

  /**
   * The two prompts (row 0 normal, row 1 anomalous), as AnomalyCLIP's forward with `cls_id=None`.
   * The caller disposes `embeddings` (e.g. inside `tf.tidy`).
   * @returns embeddings [2, L, Dt]
   */
  forward(): PromptBatch {
    const [n, a] = this.rows;
    const e = this.config.contextTokens;
    const embeddings = tf.tidy(
      () =>
        tf.concat(
          [
            spliceSequence([n.prefix, tf.reshape(this.contextNormal, [e, this.width]), n.suffix], 1),
            spliceSequence([a.prefix, tf.reshape(this.contextAnomaly, [e, this.width]), a.suffix], 1),
          ],
          0,
        ) as tf.Tensor3D,
    );
    return {
      embeddings,
      tokenIds: [n.ids, a.ids],
      eotIndices: [argmaxIndex(n.ids), argmaxIndex(a.ids)],
      deepTokens: this.deepTokens as unknown as tf.Tensor2D[],
    };
  }

  /**
   * AnomalyCLIP's buffers as it would store them (`token_prefix_pos [1,1,1,Dt]`, `token_suffix_pos
   * [1,1,L-1-E,Dt]`, `tokenized_prompts_pos [1,1,L]`, and the `_neg` ones), keyed with the prefix. New
   * tensors: the caller disposes them.
   */
  buffers(): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    const names = ['pos', 'neg'] as const;
    this.rows.forEach((r, i) => {
      const s = names[i]!;
      out.set(`${this.prefix}token_prefix_${s}`, tf.reshape(r.prefix, [1, 1, 1, this.width]));
      out.set(`${this.prefix}token_suffix_${s}`, tf.reshape(r.suffix, [1, 1, r.suffix.shape[0], this.width]));
      out.set(`${this.prefix}tokenized_prompts_${s}`, tf.tensor3d(r.ids, [1, 1, r.ids.length], 'int32'));
    });
    return out;
  }

  /** Frees the fixed embeddings (the parameters belong to the store). */
  dispose(): void {
    for (const r of this.rows) {
      r.prefix.dispose();
      r.suffix.dispose();
    }
  }
}
