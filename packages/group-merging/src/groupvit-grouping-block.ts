import * as tf from '@tensorflow/tfjs-core';
import { joinName, type ParameterStore, type Rng } from '@hgm/tensor';
import { gelu, layerNorm, linear, mergeHeads, scaledDotProductAttention, splitHeads } from '@hgm/nn';
import { addLayerNorm, addLinear, checkPositiveInteger, checkShape, tidyObject, type LayerNormParameters, type LinearParameters } from './parameters';
import { assignOverLastAxis, gumbelNoiseFor } from './assignment';
import { ConfigError, disposeOwned } from '@hgm/tensor';

/**
 * Constructor arguments of GroupViT's `GroupingBlock` (NVlabs/GroupViT `models/group_vit.py`), with the
 * reference defaults. `norm_layer` is always LayerNorm (eps {@link layerNormEps}).
 */
export interface GroupViTGroupingBlockConfig {
  /** C, the width of image and group tokens. */
  dim: number;
  /** Width of the output group tokens; a different value adds `reduction = LayerNorm + Linear(no bias)`. Default dim. */
  outDim: number;
  /** Heads of the pre-assignment cross-attention block. */
  numHeads: number;
  /** S1, group tokens entering. */
  numGroupTokens: number;
  /** S2, group tokens leaving (the token-mixing MLP maps S1 -> S2). */
  numOutputGroups: number;
  /** [tokens ratio, channels ratio]: hidden sizes int(r * dim) of the token-mixing and channel MLPs. Default [0.5, 4]. */
  mlpRatio: [number, number];
  /** Hard one-hot assignment with straight-through gradient (true) or softmax (false). Default true. */
  hard: boolean;
  /** Gumbel noise on the assignment logits in training (never at eval). Default true (reference default). */
  gumbel: boolean;
  /** Sum (true) or average (false, divide by mass + assignEps) the assigned tokens. Default false. */
  sumAssign: boolean;
  /** Added to each group's assignment mass before dividing. Default 1. */
  assignEps: number;
  /** Temperature of the Gumbel softmax. Default 1. */
  gumbelTau: number;
  /** LayerNorm epsilon. Default 1e-5 (torch's nn.LayerNorm). */
  layerNormEps: number;
}

/** Reference defaults apart from the sizes. */
export const DEFAULT_GROUPVIT_GROUPING_BLOCK_CONFIG: Omit<GroupViTGroupingBlockConfig, 'dim' | 'outDim' | 'numHeads' | 'numGroupTokens' | 'numOutputGroups'> = {
  mlpRatio: [0.5, 4],
  hard: true,
  gumbel: true,
  sumAssign: false,
  assignEps: 1,
  gumbelTau: 1,
  layerNormEps: 1e-5,
};

/** Fills defaults and validates; `outDim` defaults to `dim`. */
export function resolveGroupViTGroupingBlockConfig(
  partial: Partial<GroupViTGroupingBlockConfig> & Pick<GroupViTGroupingBlockConfig, 'dim' | 'numHeads' | 'numGroupTokens' | 'numOutputGroups'>,
): GroupViTGroupingBlockConfig {
  const c: GroupViTGroupingBlockConfig = { ...DEFAULT_GROUPVIT_GROUPING_BLOCK_CONFIG, outDim: partial.dim, ...partial };
  checkPositiveInteger('GroupViT grouping block dim', c.dim);
  checkPositiveInteger('GroupViT grouping block outDim', c.outDim);
  checkPositiveInteger('GroupViT grouping block numHeads', c.numHeads);
  checkPositiveInteger('GroupViT grouping block numGroupTokens', c.numGroupTokens);
  checkPositiveInteger('GroupViT grouping block numOutputGroups', c.numOutputGroups);
  if (c.dim % c.numHeads !== 0) throw new ConfigError(`GroupViT grouping block: dim ${c.dim} is not divisible by numHeads ${c.numHeads}`);
  if (!Array.isArray(c.mlpRatio) || c.mlpRatio.length !== 2 || c.mlpRatio.some((r) => !(r > 0))) {
    throw new ConfigError(`GroupViT grouping block mlpRatio: expected two positive numbers, found ${JSON.stringify(c.mlpRatio)}`);
  }
  for (const r of c.mlpRatio) checkPositiveInteger('GroupViT grouping block hidden size int(mlpRatio * dim)', Math.trunc(r * c.dim));
  if (!(c.assignEps >= 0)) throw new ConfigError(`GroupViT grouping block assignEps: expected >= 0, found ${c.assignEps}`);
  if (!(c.gumbelTau > 0)) throw new ConfigError(`GroupViT grouping block gumbelTau: expected > 0, found ${c.gumbelTau}`);
  if (!(c.layerNormEps > 0)) throw new ConfigError(`GroupViT grouping block layerNormEps: expected > 0, found ${c.layerNormEps}`);
  return c;
}

/** What one grouping step produced. */
export interface GroupViTGroupingBlockOutput {
  /** [B, S2, outDim] the new group tokens (`new_x`). */
  newGroupTokens: tf.Tensor3D;
  /** [B, 1, S2, L] the assignment used (`attn_dict["hard"]`): one-hot over groups (straight-through) when hard, else the softmax. */
  attnHard: tf.Tensor4D;
  /** [B, 1, S2, L] the plain softmax over groups, without noise (`attn_dict["soft"]`). */
  attnSoft: tf.Tensor4D;
  /** Intermediates, named as the reference sub-modules: normTokens [B, S1, C], normX [B, L, C], projectGroupToken [B, S2, C], preAssignAttn [B, S2, C], assign [B, S2, C]. */
  intermediates: {
    normTokens: tf.Tensor3D;
    normX: tf.Tensor3D;
    projectGroupToken: tf.Tensor3D;
    preAssignAttn: tf.Tensor3D;
    assign: tf.Tensor3D;
  };
}

/** Forward options shared by the blocks of this package. */
export interface GroupingForwardOptions {
  /** 'train' draws Gumbel noise (when enabled) from `rng`; 'eval' never adds noise. */
  mode: 'train' | 'eval';
  /** Source of the Gumbel noise; required in 'train' mode when noise is enabled. */
  rng?: Rng;
}

interface MlpParameters {
  fc1: LinearParameters;
  fc2: LinearParameters;
}

/**
 * GroupViT's `GroupingBlock`, a faithful port: parameters are registered under the reference state-dict
 * names (`<prefix>.norm_tokens.weight`, `<prefix>.mlp_inter.fc1.weight`, `<prefix>.pre_assign_attn.attn.q_proj.weight`,
 * `<prefix>.assign.q_proj.weight`, `<prefix>.reduction.1.weight`, ...), so a reference checkpoint loads
 * with `store.loadStateDict(reader, { rename: [...prefix rule] })` or directly with an empty prefix.
 *
 * Forward (x image tokens [B, L, C], group tokens [B, S1, C]):
 * `g = LN(groups)`, `x = LN(x)`, `p = LN(MLP_tokens(g^T)^T)` [B, S2, C],
 * `p = CrossAttnBlock_postnorm(p, x)`, `A = hard_softmax_groups(q(p) k(x)^T / sqrt(C))`,
 * `out = proj((A / (sum_L A + eps)) v(x)) + p`, `new = reduction(out) + MLP(LN(out))`.
 */
export class GroupViTGroupingBlock {
  readonly config: GroupViTGroupingBlockConfig;
  private readonly p: {
    normTokens: LayerNormParameters;
    mlpInter: MlpParameters;
    normPostTokens: LayerNormParameters;
    normX: LayerNormParameters;
    pre: {
      normPost: LayerNormParameters;
      q: LinearParameters;
      k: LinearParameters;
      v: LinearParameters;
      proj: LinearParameters;
      norm2: LayerNormParameters;
      mlp: MlpParameters;
    };
    assign: { q: LinearParameters; k: LinearParameters; v: LinearParameters; proj: LinearParameters };
    normNewX: LayerNormParameters;
    mlpChannels: MlpParameters;
    reduction?: { norm: LayerNormParameters; linear: LinearParameters };
  };

  /**
   * Registers the parameters (trunc-normal std 0.02 linear weights, zero biases, unit LayerNorms, as
   * GroupViT's `init_weights`).
   * @param prefix state-dict prefix ('' for the reference names as they are)
   */
  constructor(store: ParameterStore, prefix: string, config: GroupViTGroupingBlockConfig, rng: Rng) {
    const c = resolveGroupViTGroupingBlockConfig(config);
    this.config = c;
    const n = (name: string): string => joinName(prefix, name);
    const d = c.dim;
    const tokensDim = Math.trunc(c.mlpRatio[0] * d);
    const channelsDim = Math.trunc(c.mlpRatio[1] * d);
    const mlp = (name: string, inDim: number, hidden: number, outDim: number): MlpParameters => ({
      fc1: addLinear(store, n(`${name}.fc1`), inDim, hidden, rng),
      fc2: addLinear(store, n(`${name}.fc2`), hidden, outDim, rng),
    });
    const normTokens = addLayerNorm(store, n('norm_tokens'), d);
    const mlpInter = mlp('mlp_inter', c.numGroupTokens, tokensDim, c.numOutputGroups);
    const normPostTokens = addLayerNorm(store, n('norm_post_tokens'), d);
    const normX = addLayerNorm(store, n('norm_x'), d);
    const pre = {
      normPost: addLayerNorm(store, n('pre_assign_attn.norm_post'), d),
      q: addLinear(store, n('pre_assign_attn.attn.q_proj'), d, d, rng),
      k: addLinear(store, n('pre_assign_attn.attn.k_proj'), d, d, rng),
      v: addLinear(store, n('pre_assign_attn.attn.v_proj'), d, d, rng),
      proj: addLinear(store, n('pre_assign_attn.attn.proj'), d, d, rng),
      norm2: addLayerNorm(store, n('pre_assign_attn.norm2'), d),
      mlp: mlp('pre_assign_attn.mlp', d, 4 * d, d),
    };
    const assign = {
      q: addLinear(store, n('assign.q_proj'), d, d, rng),
      k: addLinear(store, n('assign.k_proj'), d, d, rng),
      v: addLinear(store, n('assign.v_proj'), d, d, rng),
      proj: addLinear(store, n('assign.proj'), d, d, rng),
    };
    const normNewX = addLayerNorm(store, n('norm_new_x'), d);
    const mlpChannels = mlp('mlp_channels', d, channelsDim, c.outDim);
    const reduction =
      c.outDim !== d
        ? { norm: addLayerNorm(store, n('reduction.0'), d), linear: addLinear(store, n('reduction.1'), d, c.outDim, rng, { bias: false }) }
        : undefined;
    this.p = { normTokens, mlpInter, normPostTokens, normX, pre, assign, normNewX, mlpChannels, ...(reduction ? { reduction } : {}) };
  }

  /**
   * @param x [B, L, C] image tokens
   * @param groupTokens [B, S1, C]
   */
  forward(x: tf.Tensor, groupTokens: tf.Tensor, options: GroupingForwardOptions): GroupViTGroupingBlockOutput {
    const c = this.config;
    checkShape('GroupViT grouping block x', x, [undefined, undefined, c.dim]);
    checkShape('GroupViT grouping block groupTokens', groupTokens, [x.shape[0], c.numGroupTokens, c.dim]);
    const [b, l] = x.shape as [number, number, number];
    const noise = gumbelNoiseFor([b, l, c.numOutputGroups], c.gumbel && options.mode === 'train', options.rng, 'GroupViT grouping block');
    try {
      return tidyObject(() => {
        const p = this.p;
        const eps = c.layerNormEps;
        const ln = (t: tf.Tensor, q: LayerNormParameters): tf.Tensor => layerNorm(t, q.weight, q.bias, eps);
        const mlp = (t: tf.Tensor, q: MlpParameters): tf.Tensor => linear(gelu(linear(t, q.fc1.weight, q.fc1.bias)), q.fc2.weight, q.fc2.bias);
        const normTokens = ln(groupTokens, p.normTokens);
        const normX = ln(x, p.normX);
        // Token-mixing MLP over the group axis: [B, C, S1] -> [B, C, S2] -> [B, S2, C].
        const projectGroupToken = ln(tf.transpose(mlp(tf.transpose(normTokens, [0, 2, 1]), p.mlpInter), [0, 2, 1]), p.normPostTokens);
        // CrossAttnBlock(post_norm=True): no pre-norms on query/key, residual attention and MLP, then norm_post.
        const q = splitHeads(linear(projectGroupToken, p.pre.q.weight, p.pre.q.bias), c.numHeads);
        const k = splitHeads(linear(normX, p.pre.k.weight, p.pre.k.bias), c.numHeads);
        const v = splitHeads(linear(normX, p.pre.v.weight, p.pre.v.bias), c.numHeads);
        let h = tf.add(projectGroupToken, linear(mergeHeads(scaledDotProductAttention(q, k, v)), p.pre.proj.weight, p.pre.proj.bias));
        h = tf.add(h, mlp(ln(h, p.pre.norm2), p.pre.mlp));
        const preAssignAttn = ln(h, p.pre.normPost);
        // AssignAttention (1 head, scale C^-1/2); the softmax runs over the GROUP axis.
        const aq = linear(preAssignAttn, p.assign.q.weight, p.assign.q.bias);
        const ak = linear(normX, p.assign.k.weight, p.assign.k.bias);
        const av = linear(normX, p.assign.v.weight, p.assign.v.bias);
        // Logits laid out [B, L, S2] so that the group axis is last.
        const logits = tf.mul(tf.matMul(ak, aq, false, true), 1 / Math.sqrt(c.dim));
        const gumbelOn = noise !== undefined;
        const used = assignOverLastAxis(logits, { hard: c.hard, tau: gumbelOn ? c.gumbelTau : 1, ...(noise ? { gumbelNoise: noise } : {}) });
        const plain = gumbelOn ? tf.softmax(logits) : used.soft;
        let attn = tf.transpose(used.assignment, [0, 2, 1]); // [B, S2, L]
        if (!c.sumAssign) attn = tf.div(attn, tf.add(tf.sum(attn, -1, true), c.assignEps));
        const assign = linear(tf.matMul(attn, av), p.assign.proj.weight, p.assign.proj.bias);
        const out = tf.add(assign, preAssignAttn);
        const reduced = p.reduction ? linear(ln(out, p.reduction.norm), p.reduction.linear.weight) : out;
        const newGroupTokens = tf.add(reduced, mlp(ln(out, p.normNewX), p.mlpChannels));
        return {
          newGroupTokens: newGroupTokens as tf.Tensor3D,
          attnHard: tf.expandDims(tf.transpose(used.assignment, [0, 2, 1]), 1) as tf.Tensor4D,
          attnSoft: tf.expandDims(tf.transpose(plain, [0, 2, 1]), 1) as tf.Tensor4D,
          intermediates: {
            normTokens: normTokens as tf.Tensor3D,
            normX: normX as tf.Tensor3D,
            projectGroupToken: projectGroupToken as tf.Tensor3D,
            preAssignAttn: preAssignAttn as tf.Tensor3D,
            assign: assign as tf.Tensor3D,
          },
        };
      });
    } finally {
      noise?.dispose();
    }
  }
}

/** Disposes every tensor of a {@link GroupViTGroupingBlockOutput}. */
export function disposeGroupViTGroupingBlockOutput(out: GroupViTGroupingBlockOutput): void {
  disposeOwned(out);
}
