// @hgm/backbone: frozen vision and text encoders with real checkpoint loaders.
export * from './encoder';
export * from './clip/index';
export * from './dino/index';
export * from './tokenizer/index';
export * from './weights/index';
