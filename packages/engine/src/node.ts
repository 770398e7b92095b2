// @hgm/engine/node: the parts that read and write files.
export * from './index';
export * from './feature-cache';
export * from './features';
export * from './trainer';
export * from './evaluator';
export * from './shard-state';
export * from './map-images';
export * from './detector';
export * from './expand-inputs';
export * from './output-names';
