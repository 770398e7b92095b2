// @hgm/group-merging: Hierarchical Group Merging: GroupViT-style assignment and ToMe bipartite merging of group tokens.
export { DEFAULT_HIERARCHICAL_GROUP_MERGING_CONFIG, resolveHierarchicalGroupMergingConfig, type HierarchicalGroupMergingConfig } from './config';
export {
  HierarchicalGroupMerging,
  disposeHierarchicalGroupMergingOutput,
  disposeGroupMergingLevel,
  type GroupMergingLevel,
  type HierarchicalGroupMergingOutput,
  type HierarchicalGroupMergingInit,
} from './hierarchical-group-merging';
export { GroupMergeBlock, type GroupMergeBlockConfig, type GroupMergeBlockOutput } from './merge-block';
export { mergeGroupTokens, type MergedGroups } from './merge-groups';
export {
  bipartiteSoftMatching,
  mergeWeightedAverage,
  mergeSource,
  type BipartiteMatching,
  type BipartiteMatchingOptions,
  type MergeMode,
} from './bipartite-soft-matching';
export { assignOverLastAxis, straightThroughOneHot, gumbelNoiseFor, type Assignment, type AssignmentOptions } from './assignment';
export {
  GroupViTGroupingBlock,
  DEFAULT_GROUPVIT_GROUPING_BLOCK_CONFIG,
  resolveGroupViTGroupingBlockConfig,
  disposeGroupViTGroupingBlockOutput,
  type GroupViTGroupingBlockConfig,
  type GroupViTGroupingBlockOutput,
  type GroupingForwardOptions,
} from './groupvit-grouping-block';
export { addLinear, addLayerNorm, type LinearParameters, type LayerNormParameters, type InitOptions } from './parameters';
