import { describe, it, expect, beforeAll } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { repoFixturesDir } from '@hgm/tensor/testing';
import { ClipTokenizer } from './clip-tokenizer';
import { clipVocabPath, loadClipTokenizer } from './node-loader';

interface TokenizerCase {
  text: string;
  ids: number[];
  bpe_tokens: string[];
  num_tokens_untruncated: number;
  truncated: boolean;
  cleaned_text: string;
  regex_pieces: string[];
  decoded: string;
}

const fixtureDir = join(repoFixturesDir(), 'tokenizer');
let tokenizer: ClipTokenizer;
let cases: TokenizerCase[];

beforeAll(async () => {
  tokenizer = await loadClipTokenizer();
  cases = JSON.parse(await readFile(join(fixtureDir, 'cases.json'), 'utf8')) as TokenizerCase[];
});

describe('ClipTokenizer against openai clip.tokenize (fixtures/tokenizer)', () => {
  it('has 40 cases', () => expect(cases.length).toBe(40));

  it('gives the exact ids of every case (context 77, truncate)', () => {
    const all = tokenizer.tokenize(
      cases.map((c) => c.text),
      { contextLength: 77, truncate: true },
    );
    expect(all.length).toBe(cases.length * 77);
    cases.forEach((c, i) => expect([...all.subarray(i * 77, (i + 1) * 77)], c.text).toEqual(c.ids));
  });

  it('gives the exact BPE token strings, cleaned text and regex pieces', () => {
    for (const c of cases) {
      expect(tokenizer.bpeTokens(c.text), c.text).toEqual(c.bpe_tokens);
      expect(tokenizer.cleanText(c.text), c.text).toBe(c.cleaned_text);
      expect(tokenizer.pieces(c.text), c.text).toEqual(c.regex_pieces);
    }
  });

  it('counts untruncated tokens, and decodes as SimpleTokenizer.decode', () => {
    for (const c of cases) {
      const ids = tokenizer.encode(c.text);
      expect(ids.length + 2, c.text).toBe(c.num_tokens_untruncated);
      expect(ids.length + 2 > 77, c.text).toBe(c.truncated);
      expect(tokenizer.decode(ids), c.text).toBe(c.decoded);
    }
  });

  it('throws for a too-long text without truncate, naming it', () => {
    const long = cases.find((c) => c.truncated)!;
    expect(() => tokenizer.tokenize(long.text)).toThrow(/too long for context length 77/);
  });
});

describe('ClipTokenizer loading and vocabulary', () => {
  it('ships the vocabulary byte-identical to the fixture (sha256)', async () => {
    const bytes = await readFile(clipVocabPath());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe('924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a');
  });

  it('builds the same tokenizer from bytes (browser path) as from the Node loader', async () => {
    const bytes = await readFile(join(fixtureDir, 'bpe_simple_vocab_16e6.txt.gz'));
    const fromBytes = ClipTokenizer.fromVocabBytes(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    expect(fromBytes.vocabSize).toBe(49408);
    expect([fromBytes.sotToken, fromBytes.eotToken]).toEqual([49406, 49407]);
    expect(fromBytes.encode('a photo of a damaged pcb1.')).toEqual(tokenizer.encode('a photo of a damaged pcb1.'));
  });

  it('rejects bytes that are not gzip', () => {
    expect(() => ClipTokenizer.fromVocabBytes(new Uint8Array([1, 2, 3, 4]))).toThrow(/not a gzip file/);
  });

  it('round-trips every single-token id through idToToken / tokenToId', () => {
    for (const id of [0, 255, 256, 511, 512, 30000, 49405, 49406, 49407]) expect(tokenizer.tokenToId(tokenizer.idToToken(id)!)).toBe(id);
  });

  it('decodes encode(text) back to the cleaned text with spaces between words', () => {
    expect(tokenizer.decode(tokenizer.encode('A Damaged  Metal_Nut!'))).toBe('a damaged metal _ nut ! ');
  });

  it('unescapes HTML as Python html.unescape (numeric, legacy names, prefixes)', () => {
    expect(tokenizer.cleanText('&#x41;&#66;&amp &ampx &notit; &#128; &#0; &NotANameAtAll;')).toBe('ab& &x ¬it; € \ufffd &notanameatall;');
  });
});
