// @hgm/backbone/node
export { loadClipTokenizer, clipVocabPath, CLIP_VOCAB_FILE } from './tokenizer/node-loader';
export * from './weights/node';
