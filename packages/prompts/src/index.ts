// @hgm/prompts: prompt templates as data, learnable context tokens, Dynamic State Prompts and AnomalyCLIP's prompt learner.
export * from './templates';
export { argmaxIndex, disposePromptBatch, type PromptTextSpec, type PromptBatch } from './text-spec';
export { spliceSequence } from './splice';
export {
  AnomalyClipPromptLearner,
  DEFAULT_ANOMALYCLIP_PROMPT_CONFIG,
  resolveAnomalyClipPromptConfig,
  fromAnomalyClipParameters,
  anomalyClipIgnoredKeys,
  type AnomalyClipPromptConfig,
} from './anomalyclip-prompt-learner';
export {
  DynamicStatePrompts,
  DEFAULT_DYNAMIC_STATE_PROMPT_CONFIG,
  resolveDynamicStatePromptConfig,
  type DynamicStatePromptConfig,
} from './dynamic-state-prompts';
