// @hgm/engine: Training, evaluation and detection for hgm models: checkpoints, resume, feature cache, reports
