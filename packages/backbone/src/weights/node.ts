// Node-only parts of the weights module: downloads, the cache and the weights manager, streamed writing.
export * from './download';
export * from './weights-manager';
export * from './write-safetensors-file';
