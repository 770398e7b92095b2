import { checkPositiveInteger } from './parameters';
import { ConfigError } from '@hgm/tensor';

/**
 * Configuration of Hierarchical Group Merging (method step 2). Every "choice" of the method page is a
 * field here, with the default stated.
 */
export interface HierarchicalGroupMergingConfig {
  /** D, the width of patch features and group tokens (the text embedding size, 768 for the paper). */
  dim: number;
  /**
   * K_h, groups per level, strictly decreasing, one level per tapped layer; the last must be 2 (the image
   * anchors G_N, G_A). Default [16, 8, 4, 2]. Level h merges K_h -> K_{h+1} (r = K_h - K_{h+1}); the last
   * level does not merge.
   */
  groupsPerLevel: number[];
  /** Heads of the initialisation cross-attention (patches attend to the groups). Default 8. */
  numHeads: number;
  /** Hidden width ratio of the group-update MLP. Default 4. */
  mlpRatio: number;
  /** Hard one-hot assignment with a straight-through estimator (true) or the soft assignment (false). Default true. */
  hard: boolean;
  /** Gumbel noise on the assignment logits in 'train' mode (never in 'eval'). Default true. */
  gumbel: boolean;
  /** Softmax temperature tau (choice). Default 1. */
  tau: number;
  /** norm_M: each group's column of Pi is divided by (its sum over patches + assignEps), as GroupViT. Default 1. */
  assignEps: number;
  /**
   * Choice: LayerNorm the patches F' and the groups G before the assignment projections W_Q, W_K, W_V
   * (GroupViT normalises both sides). Default true; false uses F' and G as they are.
   */
  assignPreNorm: boolean;
  /**
   * Step 2a, F' = CrossAttn(LN(F), LN(G)) + F. Default true; false skips it (F' = F), for ablations.
   */
  initCrossAttention: boolean;
  /**
   * Choice: when r = K_h - K_{h+1} exceeds what one ToMe step can merge (floor(K_h / 2)), apply further
   * bipartite matching rounds until K_{h+1} remain ('repeat', the default); 'error' rejects such lists.
   */
  largeMergeStrategy: 'repeat' | 'error';
  /** LayerNorm epsilon. Default 1e-5. */
  layerNormEps: number;
  /** Std of the trunc-normal initial group tokens G^(1). Default 0.02. */
  groupTokenInitStd: number;
  /** Std of the trunc-normal linear weights (biases start at 0). Default 0.02. */
  weightInitStd: number;
}

/** The method's defaults (D = 768, [16, 8, 4, 2]). */
export const DEFAULT_HIERARCHICAL_GROUP_MERGING_CONFIG: HierarchicalGroupMergingConfig = {
  dim: 768,
  groupsPerLevel: [16, 8, 4, 2],
  numHeads: 8,
  mlpRatio: 4,
  hard: true,
  gumbel: true,
  tau: 1,
  assignEps: 1,
  assignPreNorm: true,
  initCrossAttention: true,
  largeMergeStrategy: 'repeat',
  layerNormEps: 1e-5,
  groupTokenInitStd: 0.02,
  weightInitStd: 0.02,
};

/** Fills defaults and validates, naming the field, what was expected and what was found. */
export function resolveHierarchicalGroupMergingConfig(partial: Partial<HierarchicalGroupMergingConfig> = {}): HierarchicalGroupMergingConfig {
  const c: HierarchicalGroupMergingConfig = { ...DEFAULT_HIERARCHICAL_GROUP_MERGING_CONFIG, ...partial };
  c.groupsPerLevel = [...c.groupsPerLevel];
  checkPositiveInteger('group merging dim', c.dim);
  checkPositiveInteger('group merging numHeads', c.numHeads);
  if (c.dim % c.numHeads !== 0) throw new ConfigError(`group merging: dim ${c.dim} is not divisible by numHeads ${c.numHeads}`);
  const k = c.groupsPerLevel;
  if (!Array.isArray(k) || k.length === 0) throw new ConfigError(`group merging groupsPerLevel: expected a non-empty list, found ${JSON.stringify(k)}`);
  k.forEach((v, i) => checkPositiveInteger(`group merging groupsPerLevel[${i}]`, v));
  for (let i = 1; i < k.length; i++) {
    if (!(k[i]! < k[i - 1]!)) throw new ConfigError(`group merging groupsPerLevel: expected a strictly decreasing list, found ${JSON.stringify(k)}`);
    if (c.largeMergeStrategy === 'error' && k[i - 1]! - k[i]! > Math.floor(k[i - 1]! / 2)) {
      throw new ConfigError(
        `group merging groupsPerLevel: ${k[i - 1]} -> ${k[i]} merges more than half the tokens in one ToMe step (largeMergeStrategy 'error'); found ${JSON.stringify(k)}`,
      );
    }
  }
  if (k[k.length - 1] !== 2) throw new ConfigError(`group merging groupsPerLevel: the last level must have 2 groups (G_N, G_A), found ${JSON.stringify(k)}`);
  if (!(c.mlpRatio > 0) || Math.trunc(c.mlpRatio * c.dim) < 1) throw new ConfigError(`group merging mlpRatio: expected > 0, found ${c.mlpRatio}`);
  if (!(c.tau > 0)) throw new ConfigError(`group merging tau: expected > 0, found ${c.tau}`);
  if (!(c.assignEps >= 0)) throw new ConfigError(`group merging assignEps: expected >= 0, found ${c.assignEps}`);
  if (!(c.layerNormEps > 0)) throw new ConfigError(`group merging layerNormEps: expected > 0, found ${c.layerNormEps}`);
  if (!(c.groupTokenInitStd >= 0)) throw new ConfigError(`group merging groupTokenInitStd: expected >= 0, found ${c.groupTokenInitStd}`);
  if (!(c.weightInitStd >= 0)) throw new ConfigError(`group merging weightInitStd: expected >= 0, found ${c.weightInitStd}`);
  if (c.largeMergeStrategy !== 'repeat' && c.largeMergeStrategy !== 'error') {
    throw new ConfigError(`group merging largeMergeStrategy: expected 'repeat' or 'error', found ${JSON.stringify(c.largeMergeStrategy)}`);
  }
  return c;
}
