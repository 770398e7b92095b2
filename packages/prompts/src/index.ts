// @hgm/prompts: Prompt templates, learnable context, Dynamic State Prompts and AnomalyCLIP's prompt learner
