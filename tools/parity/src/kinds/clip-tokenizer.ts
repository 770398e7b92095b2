/**
 * Parity kind `clip-tokenizer`: for every record of the folder's `cases.json`, compares the ids of
 * `tokenize(text, {contextLength: 77, truncate: true})`, the BPE token strings, the cleaned text, the
 * regular-expression pieces, the untruncated count, the truncation flag and `decode(encode(text))` (the
 * untruncated ids without SOT/EOT, as the fixture records it) exactly.
 * The tokenizer is built from the folder's own vocabulary file.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Fixture } from '@hgm/tensor/testing';
import { ClipTokenizer } from '@hgm/backbone';
import { compareExact, type ParityRow } from '../compare';

interface TokenizerCase {
  text: string;
  ids: number[];
  bpe_tokens: string[];
  num_tokens_untruncated: number;
  truncated: boolean;
  cleaned_text: string;
  regex_pieces: string[];
  decoded: string;
  ftfy_sensitive?: boolean;
}

export async function runFixture(fixture: Fixture): Promise<ParityRow[]> {
  const tokenizer = ClipTokenizer.fromVocabBytes(await readFile(join(fixture.folder, 'bpe_simple_vocab_16e6.txt.gz')));
  const cases = await fixture.json<TokenizerCase[]>('cases.json');
  const rows: ParityRow[] = [];
  cases.forEach((c, i) => {
    const label = `case ${i} ${JSON.stringify(c.text.length > 24 ? `${c.text.slice(0, 24)}…` : c.text)}`;
    const contextLength = c.ids.length;
    const ids = [...tokenizer.tokenize(c.text, { contextLength, truncate: true })];
    const encoded = tokenizer.encode(c.text);
    rows.push(compareExact(`${label} ids`, ids, c.ids));
    rows.push(compareExact(`${label} bpe_tokens`, tokenizer.bpeTokens(c.text), c.bpe_tokens));
    rows.push(compareExact(`${label} cleaned_text`, [tokenizer.cleanText(c.text)], [c.cleaned_text], [1]));
    rows.push(compareExact(`${label} regex_pieces`, tokenizer.pieces(c.text), c.regex_pieces));
    rows.push(
      compareExact(`${label} num_tokens/truncated`, [encoded.length + 2, encoded.length + 2 > contextLength], [c.num_tokens_untruncated, c.truncated], [2]),
    );
    rows.push(compareExact(`${label} decoded`, [tokenizer.decode(encoded)], [c.decoded], [1]));
  });
  return rows;
}
