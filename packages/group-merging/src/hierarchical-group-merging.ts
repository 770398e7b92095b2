import * as tf from '@tensorflow/tfjs-core';
import { joinName, type ParameterStore, type Rng } from '@hgm/tensor';
import { resolveHierarchicalGroupMergingConfig, type HierarchicalGroupMergingConfig } from './config';
import { GroupMergeBlock } from './merge-block';
import { mergeGroupTokens } from './merge-groups';
import { checkShape, tidyObject } from './parameters';
import type { GroupingForwardOptions } from './groupvit-grouping-block';
import { ConfigError, ShapeError, disposeOwned } from '@hgm/tensor';

/** Per-level outputs of {@link HierarchicalGroupMerging.forward} (level h has K_h groups). */
export interface GroupMergingLevel {
  /** [B, K_h, D] G^(h), the group tokens entering the level. */
  groupTokens: tf.Tensor3D;
  /** [B, K_h] sizes of G^(h) (how many initial group tokens each one stands for). */
  groupSizes: tf.Tensor2D;
  /** [B, M, D] F' after the initialisation cross-attention. */
  initializedPatches: tf.Tensor3D;
  /** [B, M, K_h] Pi^(h), sums to 1 over groups; one-hot (straight-through) in hard mode. */
  assignment: tf.Tensor3D;
  /** [B, M, K_h] the soft assignment behind Pi^(h). */
  softAssignment: tf.Tensor3D;
  /** [B, K_h, D] G'^(h) after the group update (before the merge to K_{h+1}). */
  updatedGroupTokens: tf.Tensor3D;
  /** [B, K_{h+1}, K_h] 0/1: which tokens of G'^(h) were merged into each token of G^(h+1); null at the last level. */
  mergeMembership: tf.Tensor3D | null;
}

/** Typed output of Hierarchical Group Merging. */
export interface HierarchicalGroupMergingOutput {
  /** One entry per level, in order. */
  levels: GroupMergingLevel[];
  /** [B, 2, D] the final group tokens: G_N at index 0, G_A at index 1. */
  imageAnchors: tf.Tensor3D;
  /** [B, M, D] F_assign = Pi^(H) G^(H)': every patch takes (the mixture of) its group token(s). */
  assignedFeatures: tf.Tensor3D;
}

/** Construction options. */
export interface HierarchicalGroupMergingInit {
  /** State-dict prefix of every parameter (e.g. 'hgm'); '' for none. */
  prefix: string;
  /** Seeded initialisation. */
  rng: Rng;
}

/**
 * Hierarchical Group Merging (method step 2). Parameters, under `<prefix>`:
 * `group_tokens` [K_1, D] (trunc-normal std 0.02) and `levels.{h}.*` for every level (see {@link GroupMergeBlock}).
 *
 * For level h = 1..H with features F^(l_h) [B, M, D] and group tokens G^(h) [B, K_h, D]:
 * F' = CrossAttn(F, G) + F; Pi = assign(F', G); G' = update(G, Pi, F'); then (h < H) G^(h+1) =
 * ToMe-merge(G', K_{h+1}) with size-weighted means. After the last level: image anchors = G'^(H)
 * (K_H = 2) and F_assign = Pi^(H) G'^(H).
 */
export class HierarchicalGroupMerging {
  readonly config: HierarchicalGroupMergingConfig;
  /** [K_1, D] the learnable initial group tokens G^(1). */
  readonly initialGroupTokens: tf.Variable;
  readonly blocks: readonly GroupMergeBlock[];

  constructor(store: ParameterStore, config: Partial<HierarchicalGroupMergingConfig>, init: HierarchicalGroupMergingInit) {
    const c = resolveHierarchicalGroupMergingConfig(config);
    this.config = c;
    this.initialGroupTokens = store.add(
      joinName(init.prefix, 'group_tokens'),
      init.rng.tensorTruncatedNormal([c.groupsPerLevel[0]!, c.dim], 0, c.groupTokenInitStd),
      { trainable: true },
    );
    this.blocks = c.groupsPerLevel.map((_, h) => new GroupMergeBlock(store, joinName(init.prefix, `levels.${h}`), c, init.rng));
  }

  /** Number of levels H (= number of tapped layers expected by {@link forward}). */
  get numLevels(): number {
    return this.config.groupsPerLevel.length;
  }

  /**
   * @param patchFeatures one [B, M, D] tensor per level (the tapped layers in order, already mapped to D)
   * @param options 'train' adds Gumbel noise drawn from `options.rng` (when `gumbel` is on); 'eval' adds none
   */
  forward(patchFeatures: readonly tf.Tensor[], options: GroupingForwardOptions): HierarchicalGroupMergingOutput {
    const c = this.config;
    if (patchFeatures.length !== this.numLevels) {
      throw new ShapeError(
        `hierarchical group merging patchFeatures: expected ${this.numLevels} tensors (one per level, groupsPerLevel ${JSON.stringify(c.groupsPerLevel)}), found ${patchFeatures.length}`,
      );
    }
    const first = patchFeatures[0]!;
    checkShape('hierarchical group merging patchFeatures[0]', first, [undefined, undefined, c.dim]);
    const [b, m] = first.shape as [number, number, number];
    patchFeatures.forEach((f, i) => checkShape(`hierarchical group merging patchFeatures[${i}]`, f, [b, m, c.dim]));
    if (options.mode !== 'train' && options.mode !== 'eval')
      throw new ConfigError(`hierarchical group merging mode: expected 'train' or 'eval', found ${JSON.stringify(options.mode)}`);

    return tidyObject(() => {
      const levels: GroupMergingLevel[] = [];
      let groups = tf.tile(tf.expandDims(this.initialGroupTokens, 0), [b, 1, 1]) as tf.Tensor3D;
      let sizes = tf.ones([b, c.groupsPerLevel[0]!, 1]) as tf.Tensor3D;
      for (let h = 0; h < this.numLevels; h++) {
        const out = this.blocks[h]!.forward(patchFeatures[h]!, groups, options);
        levels.push({
          groupTokens: groups,
          groupSizes: tf.squeeze(sizes, [2]) as tf.Tensor2D,
          initializedPatches: out.initializedPatches,
          assignment: out.assignment,
          softAssignment: out.softAssignment,
          updatedGroupTokens: out.updatedGroupTokens,
          mergeMembership: null,
        });
        out.logits.dispose();
        if (h < this.numLevels - 1) {
          const merged = mergeGroupTokens(out.updatedGroupTokens, sizes, c.groupsPerLevel[h + 1]!);
          levels[h]!.mergeMembership = merged.membership;
          groups = merged.groupTokens;
          sizes = merged.sizes;
        }
      }
      const last = levels[levels.length - 1]!;
      const imageAnchors = tf.clone(last.updatedGroupTokens) as tf.Tensor3D;
      const assignedFeatures = tf.matMul(last.assignment, last.updatedGroupTokens) as tf.Tensor3D;
      return { levels, imageAnchors, assignedFeatures };
    });
  }
}

/** Disposes every tensor of one {@link GroupMergingLevel}. */
export function disposeGroupMergingLevel(l: GroupMergingLevel): void {
  disposeOwned(l);
}

/** Disposes every tensor of a {@link HierarchicalGroupMergingOutput}. */
export function disposeHierarchicalGroupMergingOutput(out: HierarchicalGroupMergingOutput): void {
  disposeOwned(out);
}
