import { gunzipSync } from 'fflate';
import { bytesToUnicode } from './bytes-to-unicode';
import { createHtmlUnescape, type HtmlUnescape } from './html-unescape';
import { basicClean, whitespaceClean } from './text-clean';
import { ConfigError, InvalidFileError, WeightsUnavailableError } from '@hgm/tensor';

/** Options of {@link ClipTokenizer.tokenize}. */
export interface TokenizeOptions {
  /** Token positions per text (default 77). */
  contextLength?: number;
  /**
   * Cut texts that do not fit and end them with EOT (default false: throw, as openai's `clip.tokenize`).
   */
  truncate?: boolean;
}

/** Number of BPE merges CLIP uses from its vocabulary file (`49152 - 256 - 2`). */
export const CLIP_BPE_MERGES = 49152 - 256 - 2;
const START = '<|startoftext|>';
const END = '<|endoftext|>';
const MAX_CACHE = 100_000;

/**
 * CLIP's byte-level BPE tokenizer, identical to openai's `clip/simple_tokenizer.py` + `clip.tokenize`:
 * HTML unescaping (twice), whitespace collapsing, lower-casing, the same pre-tokenising regular
 * expression, 48894 merges, `<|startoftext|>` = 49406 and `<|endoftext|>` = 49407, zero padding.
 * One deliberate difference: `ftfy.fix_text` is not applied (see {@link basicClean}).
 *
 * Loads from the gzipped vocabulary (`bpe_simple_vocab_16e6.txt.gz`) in any runtime:
 * `ClipTokenizer.fromVocabBytes(bytes)`; in Node, `loadClipTokenizer()` from `@hgm/backbone/node`
 * reads the copy shipped in this package; in a browser, {@link ClipTokenizer.fromUrl}.
 */
export class ClipTokenizer {
  /** Id of `<|startoftext|>`. */
  readonly sotToken: number;
  /** Id of `<|endoftext|>`. */
  readonly eotToken: number;
  private readonly encoder: Map<string, number>;
  private readonly decoder: string[];
  private readonly ranks: Map<string, number>;
  private readonly byteToChar: string[];
  private readonly charToByte: Map<string, number>;
  private readonly unescape: HtmlUnescape;
  private readonly cache = new Map<string, string[]>();
  private readonly pattern: RegExp;
  private readonly utf8 = new TextEncoder();

  private constructor(merges: [string, string][]) {
    const { byteToChar, vocabOrder } = bytesToUnicode();
    this.byteToChar = byteToChar;
    this.charToByte = new Map(byteToChar.map((c, b) => [c, b]));
    const vocab = vocabOrder.map((b) => byteToChar[b]!);
    vocab.push(...vocab.map((v) => `${v}</w>`));
    for (const [a, b] of merges) vocab.push(a + b);
    vocab.push(START, END);
    this.decoder = vocab;
    this.encoder = new Map(vocab.map((v, i) => [v, i]));
    this.ranks = new Map(merges.map(([a, b], i) => [`${a} ${b}`, i]));
    this.sotToken = this.encoder.get(START)!;
    this.eotToken = this.encoder.get(END)!;
    this.unescape = createHtmlUnescape();
    // openai's pattern (compiled with re.IGNORECASE); \s as Python's whitespace.
    this.pattern =
      /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\p{L}\p{N}]+/giu;
  }

  /**
   * From the text of the merges file (`#version` line, then one `a b` merge per line).
   * @param mergeCount merges to use (CLIP: 48894)
   */
  static fromMergesText(text: string, mergeCount = CLIP_BPE_MERGES): ClipTokenizer {
    const lines = text.split('\n');
    if (lines.length < mergeCount + 1)
      throw new InvalidFileError('CLIP vocabulary', `CLIP vocabulary: expected at least ${mergeCount + 1} lines, found ${lines.length}`);
    const merges = lines.slice(1, mergeCount + 1).map((line, i) => {
      let parts = line.split(' ');
      if (parts.length !== 2) parts = line.trim().split(/\s+/);
      if (parts.length !== 2) throw new InvalidFileError('CLIP vocabulary', `CLIP vocabulary: line ${i + 2} is not a merge "a b": ${JSON.stringify(line)}`);
      return parts as [string, string];
    });
    return new ClipTokenizer(merges);
  }

  /** From the bytes of `bpe_simple_vocab_16e6.txt.gz` (gzip is undone with fflate, in any runtime). */
  static fromVocabBytes(gzBytes: Uint8Array | ArrayBuffer): ClipTokenizer {
    const bytes = gzBytes instanceof Uint8Array ? gzBytes : new Uint8Array(gzBytes);
    let raw: Uint8Array;
    try {
      raw = gunzipSync(bytes);
    } catch (e) {
      throw new InvalidFileError('CLIP vocabulary', `CLIP vocabulary: not a gzip file of ${bytes.length} bytes (${(e as Error).message})`);
    }
    return ClipTokenizer.fromMergesText(new TextDecoder('utf-8').decode(raw));
  }

  /** Fetches the gzipped vocabulary (browser or Node 18+) and builds the tokenizer. */
  static async fromUrl(url: string | URL, fetchFn: typeof fetch = fetch): Promise<ClipTokenizer> {
    const res = await fetchFn(url);
    if (!res.ok) throw new WeightsUnavailableError(`CLIP vocabulary ${String(url)}: HTTP ${res.status}`);
    return ClipTokenizer.fromVocabBytes(await res.arrayBuffer());
  }

  /** Vocabulary size (49408). */
  get vocabSize(): number {
    return this.decoder.length;
  }

  /** The text as openai cleans it: `whitespace_clean(basic_clean(text)).lower()`. */
  cleanText(text: string): string {
    return whitespaceClean(basicClean(text, this.unescape)).toLowerCase();
  }

  /** The pieces the pre-tokenising regular expression finds in the cleaned text. */
  pieces(text: string): string[] {
    return [...this.cleanText(text).matchAll(this.pattern)].map((m) => m[0]);
  }

  /** BPE token strings (in the byte-level alphabet, `</w>` ending a word) of a text, no special tokens added. */
  bpeTokens(text: string): string[] {
    const out: string[] = [];
    for (const piece of this.pieces(text)) {
      if (piece === START || piece === END) {
        out.push(piece);
        continue;
      }
      let chars = '';
      for (const byte of this.utf8.encode(piece)) chars += this.byteToChar[byte]!;
      out.push(...this.bpe(chars));
    }
    return out;
  }

  /** Token ids of a text, without start and end tokens (openai's `SimpleTokenizer.encode`). */
  encode(text: string): number[] {
    return this.bpeTokens(text).map((t) => {
      const id = this.encoder.get(t);
      if (id === undefined) throw new InvalidFileError('CLIP vocabulary', `CLIP tokenizer: BPE token ${JSON.stringify(t)} is not in the vocabulary`);
      return id;
    });
  }

  /**
   * openai's `clip.tokenize`: `[SOT, ...encode(text), EOT]`, zero-padded, one row per text.
   * @returns row-major [texts.length, contextLength] int32 ids
   * @throws when a text is too long and `truncate` is false
   */
  tokenize(texts: string | readonly string[], options: TokenizeOptions = {}): Int32Array {
    const list = typeof texts === 'string' ? [texts] : texts;
    const n = options.contextLength ?? 77;
    if (!Number.isInteger(n) || n < 2) throw new ConfigError(`CLIP tokenizer: contextLength must be an integer >= 2, found ${n}`);
    const out = new Int32Array(list.length * n);
    list.forEach((text, row) => {
      const ids = [this.sotToken, ...this.encode(text), this.eotToken];
      if (ids.length > n) {
        if (!options.truncate)
          throw new ConfigError(`CLIP tokenizer: input ${JSON.stringify(text)} is too long for context length ${n} (${ids.length} tokens)`);
        ids.length = n;
        ids[n - 1] = this.eotToken;
      }
      out.set(ids, row * n);
    });
    return out;
  }

  /**
   * openai's `SimpleTokenizer.decode`: concatenated tokens, bytes decoded as UTF-8 (invalid sequences
   * replaced), `</w>` replaced by a space. Special tokens decode to their text; strip SOT, EOT and
   * padding first to get the input text back.
   */
  decode(ids: ArrayLike<number>): string {
    let chars = '';
    for (let i = 0; i < ids.length; i++) {
      const t = this.decoder[ids[i]!];
      if (t === undefined) throw new ConfigError(`CLIP tokenizer: id ${ids[i]} at position ${i} is outside the vocabulary [0, ${this.decoder.length - 1}]`);
      chars += t;
    }
    const bytes: number[] = [];
    for (const c of chars) bytes.push(this.charToByte.get(c)!);
    return new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(new Uint8Array(bytes)).replaceAll('</w>', ' ');
  }

  /** The token string of an id (`<|endoftext|>`, `a</w>`). */
  idToToken(id: number): string | undefined {
    return this.decoder[id];
  }

  /** The id of a token string, if it is in the vocabulary. */
  tokenToId(token: string): number | undefined {
    return this.encoder.get(token);
  }

  /** Byte-pair merges of one pre-token (already in the byte alphabet), by merge rank. */
  private bpe(token: string): string[] {
    const cached = this.cache.get(token);
    if (cached) return cached;
    const chars = [...token];
    let word = [...chars.slice(0, -1), `${chars[chars.length - 1]}</w>`];
    while (word.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < word.length - 1; i++) {
        const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const first = word[best]!;
      const second = word[best + 1]!;
      const merged: string[] = [];
      for (let i = 0; i < word.length;) {
        if (i < word.length - 1 && word[i] === first && word[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(word[i]!);
          i += 1;
        }
      }
      word = merged;
    }
    if (this.cache.size >= MAX_CACHE) this.cache.clear();
    this.cache.set(token, word);
    return word;
  }
}
