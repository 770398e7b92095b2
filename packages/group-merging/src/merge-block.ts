import * as tf from '@tensorflow/tfjs-core';
import { joinName, type ParameterStore, type Rng } from '@hgm/tensor';
import { gelu, layerNorm, linear, matMulTransposedB, splitHeads } from '@hgm/nn';
import { addLayerNorm, addLinear, checkShape, tidyObject, type LayerNormParameters, type LinearParameters } from './parameters';
import { assignOverLastAxis, gumbelNoiseFor } from './assignment';
import type { HierarchicalGroupMergingConfig } from './config';
import type { GroupingForwardOptions } from './groupvit-grouping-block';

/** The sizes and choices a {@link GroupMergeBlock} needs (a subset of the HGM config). */
export type GroupMergeBlockConfig = Pick<
  HierarchicalGroupMergingConfig,
  'dim' | 'numHeads' | 'mlpRatio' | 'hard' | 'gumbel' | 'tau' | 'assignEps' | 'assignPreNorm' | 'initCrossAttention' | 'layerNormEps' | 'weightInitStd'
>;

/** What one merge block produced (before the ToMe merge). */
export interface GroupMergeBlockOutput {
  /** [B, M, D] F' = CrossAttn(LN(F), LN(G)) + F (F itself when the initialisation is off). */
  initializedPatches: tf.Tensor3D;
  /** [B, M, K] logits (F' W_Q)(G W_K)^T / sqrt(D), without noise. */
  logits: tf.Tensor3D;
  /** [B, M, K] Pi: rows sum to 1 over the groups; one-hot (straight-through) in hard mode. */
  assignment: tf.Tensor3D;
  /** [B, M, K] softmax((logits + noise) / tau), the distribution behind the assignment. */
  softAssignment: tf.Tensor3D;
  /** [B, K, D] G' = G + Linear(norm_M(Pi)^T (F' W_V)), then G' + MLP(LN(G')). */
  updatedGroupTokens: tf.Tensor3D;
}

/**
 * One HGM merge block (method steps 2a-2b) with its parameters under `<prefix>`:
 * - `init_attn.{norm_patches,norm_groups}` LayerNorms and `init_attn.{q_proj,k_proj,v_proj,proj}`:
 *   F' = F + proj(MHA(query = LN(F) W_q, key = LN(G) W_k, value = LN(G) W_v)) (pre-norm, residual,
 *   softmax over the K groups per head, scale head_dim^-1/2);
 * - `assign.{norm_patches,norm_groups}` (when `assignPreNorm`) and `assign.{q_proj,k_proj,v_proj,proj}`:
 *   logits = (F' W_Q)(G W_K)^T / sqrt(D); Pi = softmax over groups of (logits + Gumbel noise in training) / tau,
 *   hard one-hot with a straight-through estimator; G' = G + proj(norm_M(Pi)^T (F' W_V)) with norm_M dividing
 *   each group's column by (its mass over patches + assignEps);
 * - `mlp.norm`, `mlp.fc1`, `mlp.fc2`: G' = G' + fc2(GELU(fc1(LN(G')))).
 */
export class GroupMergeBlock {
  readonly config: GroupMergeBlockConfig;
  private readonly p: {
    init?: {
      normPatches: LayerNormParameters;
      normGroups: LayerNormParameters;
      q: LinearParameters;
      k: LinearParameters;
      v: LinearParameters;
      proj: LinearParameters;
    };
    assign: {
      normPatches?: LayerNormParameters;
      normGroups?: LayerNormParameters;
      q: LinearParameters;
      k: LinearParameters;
      v: LinearParameters;
      proj: LinearParameters;
    };
    mlp: { norm: LayerNormParameters; fc1: LinearParameters; fc2: LinearParameters };
  };

  constructor(store: ParameterStore, prefix: string, config: GroupMergeBlockConfig, rng: Rng) {
    this.config = config;
    const n = (name: string): string => joinName(prefix, name);
    const d = config.dim;
    const init = { std: config.weightInitStd };
    const hidden = Math.trunc(config.mlpRatio * d);
    this.p = {
      ...(config.initCrossAttention
        ? {
            init: {
              normPatches: addLayerNorm(store, n('init_attn.norm_patches'), d),
              normGroups: addLayerNorm(store, n('init_attn.norm_groups'), d),
              q: addLinear(store, n('init_attn.q_proj'), d, d, rng, init),
              k: addLinear(store, n('init_attn.k_proj'), d, d, rng, init),
              v: addLinear(store, n('init_attn.v_proj'), d, d, rng, init),
              proj: addLinear(store, n('init_attn.proj'), d, d, rng, init),
            },
          }
        : {}),
      assign: {
        ...(config.assignPreNorm
          ? { normPatches: addLayerNorm(store, n('assign.norm_patches'), d), normGroups: addLayerNorm(store, n('assign.norm_groups'), d) }
          : {}),
        q: addLinear(store, n('assign.q_proj'), d, d, rng, init),
        k: addLinear(store, n('assign.k_proj'), d, d, rng, init),
        v: addLinear(store, n('assign.v_proj'), d, d, rng, init),
        proj: addLinear(store, n('assign.proj'), d, d, rng, init),
      },
      mlp: {
        norm: addLayerNorm(store, n('mlp.norm'), d),
        fc1: addLinear(store, n('mlp.fc1'), d, hidden, rng, init),
        fc2: addLinear(store, n('mlp.fc2'), hidden, d, rng, init),
      },
    };
  }

  /**
   * @param patches [B, M, D] F, the projected patch tokens of this level's tapped layer
   * @param groupTokens [B, K, D] G^(h)
   */
  forward(patches: tf.Tensor, groupTokens: tf.Tensor, options: GroupingForwardOptions): GroupMergeBlockOutput {
    const c = this.config;
    checkShape('group merge block patches', patches, [undefined, undefined, c.dim]);
    checkShape('group merge block groupTokens', groupTokens, [patches.shape[0], undefined, c.dim]);
    const [b, m] = patches.shape as [number, number, number];
    const k = groupTokens.shape[1]!;
    const noise = gumbelNoiseFor([b, m, k], c.gumbel && options.mode === 'train', options.rng, 'group merge block');
    try {
      return tidyObject(() => {
        const p = this.p;
        const ln = (t: tf.Tensor, q: LayerNormParameters | undefined): tf.Tensor => (q ? layerNorm(t, q.weight, q.bias, c.layerNormEps) : t);
        // The products with the M patch tokens are folded through the K group tokens (K << D): the
        // results equal the direct formulas, at O(M K D) instead of O(M D^2) per projection.
        let initialized: tf.Tensor;
        if (p.init) {
          const heads = c.numHeads;
          const dh = c.dim / heads;
          const f = ln(patches, p.init.normPatches);
          const g = ln(groupTokens, p.init.normGroups);
          const kh = splitHeads(linear(g, p.init.k.weight, p.init.k.bias), heads); // [B, H, K, dh]
          const vh = splitHeads(linear(g, p.init.v.weight, p.init.v.bias), heads); // [B, H, K, dh]
          // x [B, H, K, dh] times a per-head matrix w [H, dh, D] -> [B, H K, D], batched over heads (w is not copied per image).
          const perHead = (x: tf.Tensor, w: tf.Tensor): tf.Tensor => {
            const byHead = tf.matMul(tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [heads, b * k, dh]), w); // [H, B K, D]
            return tf.reshape(tf.transpose(tf.reshape(byHead, [heads, b, k, c.dim]), [1, 0, 2, 3]), [b, heads * k, c.dim]);
          };
          // scores_h = (f Wq_h^T + bq_h) k_h^T = f (k_h Wq_h)^T + k_h bq_h
          const kq = perHead(kh, tf.reshape(p.init.q.weight, [heads, dh, c.dim])); // [B, H K, D]
          let scores = matMulTransposedB(f, kq); // [B, M, H K]
          const bq = tf.reshape(p.init.q.bias!, [1, heads, 1, dh]);
          scores = tf.add(scores, tf.reshape(tf.sum(tf.mul(kh, bq), -1), [b, 1, heads * k]));
          const attn = tf.softmax(tf.reshape(tf.mul(scores, 1 / Math.sqrt(dh)), [b, m, heads, k])); // per head over K
          // out = concat_h(attn_h v_h) Wo^T + bo = sum_h attn_h (v_h Wo_h^T) + bo
          const vo = perHead(vh, tf.reshape(tf.transpose(p.init.proj.weight), [heads, dh, c.dim])); // [B, H K, D]
          const out = tf.add(tf.matMul(tf.reshape(attn, [b, m, heads * k]), vo), p.init.proj.bias!);
          initialized = tf.add(patches, out);
        } else {
          initialized = tf.clone(patches);
        }
        const f = ln(initialized, p.assign.normPatches);
        const g = ln(groupTokens, p.assign.normGroups);
        const gk = linear(g, p.assign.k.weight, p.assign.k.bias); // [B, K, D]
        // logits = (f W_Q^T + b_Q)(G W_K)^T / sqrt(D) = (f (gk W_Q)^T + gk b_Q) / sqrt(D)
        const gkq = tf.reshape(tf.matMul(tf.reshape(gk, [b * k, c.dim]), p.assign.q.weight), [b, k, c.dim]); // [B, K, D]
        const gkb = tf.reshape(tf.sum(tf.mul(gk, p.assign.q.bias!), -1), [b, 1, k]);
        const logits = tf.mul(tf.add(matMulTransposedB(f, gkq), gkb), 1 / Math.sqrt(c.dim));
        const { assignment, soft } = assignOverLastAxis(logits, { hard: c.hard, tau: c.tau, ...(noise ? { gumbelNoise: noise } : {}) });
        // norm_M: [B, K, M] columns of Pi divided by (mass over patches + eps).
        const piT = tf.transpose(assignment, [0, 2, 1]);
        const normalized = tf.div(piT, tf.add(tf.sum(piT, -1, true), c.assignEps));
        // norm_M(Pi)^T (f W_V^T + b_V) = (norm_M(Pi)^T f) W_V^T + rowsum(norm_M(Pi)^T) b_V
        const pooled = tf.add(linear(tf.matMul(normalized, f), p.assign.v.weight), tf.mul(tf.sum(normalized, -1, true), p.assign.v.bias!));
        let updated = tf.add(groupTokens, linear(pooled, p.assign.proj.weight, p.assign.proj.bias));
        const h = gelu(linear(ln(updated, p.mlp.norm), p.mlp.fc1.weight, p.mlp.fc1.bias));
        updated = tf.add(updated, linear(h, p.mlp.fc2.weight, p.mlp.fc2.bias));
        return {
          initializedPatches: initialized as tf.Tensor3D,
          logits: logits as tf.Tensor3D,
          assignment: assignment as tf.Tensor3D,
          softAssignment: soft as tf.Tensor3D,
          updatedGroupTokens: updated as tf.Tensor3D,
        };
      });
    } finally {
      noise?.dispose();
    }
  }
}
