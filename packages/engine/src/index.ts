// @hgm/engine: training, evaluation and detection for hgm models. Browser-safe parts; file I/O in `@hgm/engine/node`.
export * from './progress';
export * from './colormap';
export * from './html-report';
export * from './adam';
export * from './gradient-accumulation';
export * from './engine-model';
export * from './dual-anchor-adapter';
export * from './map-images';
export * from './saved-model';
export * from './original-maps';
export * from './predict-images';
export * from './map-scale';
