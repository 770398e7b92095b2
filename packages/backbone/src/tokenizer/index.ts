// CLIP's byte-level BPE tokenizer (browser-safe; the Node loader is exported from @hgm/backbone/node).
export { ClipTokenizer, CLIP_BPE_MERGES, type TokenizeOptions } from './clip-tokenizer';
export { createHtmlUnescape, type HtmlUnescape } from './html-unescape';
export { basicClean, whitespaceClean, pythonStrip, PYTHON_WHITESPACE } from './text-clean';
export { bytesToUnicode } from './bytes-to-unicode';
