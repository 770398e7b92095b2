// @hgm/backbone: Frozen vision and text encoders (CLIP, DINOv2, DINOv3) in tfjs-core, with real checkpoint loaders and the CLIP tokenizer
