// @hgm/engine/node: the parts that read and write files.
export * from './index';
export * from './feature-cache';
