// @hgm/losses: Losses for zero-shot anomaly detection in tfjs-core: focal, Dice, BCE, cross-entropy, orthogonality, group alignment
