// @hgm/onnx: ONNX graphs of the frozen encoders built from their loaded weights, and an ONNX Runtime executor.
export * from './onnx-proto';
export * from './graph-builder';
export * from './vit-graphs';
export * from './ort-node';
export * from './onnx-image-encoder';
export * from './export-model';
export * from './text-graph';
export * from './onnx-text-tower';
