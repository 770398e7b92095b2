import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ClipTokenizer } from './clip-tokenizer';
import { InputNotFoundError } from '@hgm/tensor';

/** File name of CLIP's vocabulary, shipped in this package's `assets/`. */
export const CLIP_VOCAB_FILE = 'bpe_simple_vocab_16e6.txt.gz';

/**
 * Absolute path of the vocabulary shipped in `@hgm/backbone/assets` (found from the sources or from the
 * built `dist/`). Node only.
 */
export function clipVocabPath(): string {
  const candidates = [`../../assets/${CLIP_VOCAB_FILE}`, `../assets/${CLIP_VOCAB_FILE}`].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  const found = candidates.find((p) => existsSync(p));
  if (!found)
    throw new InputNotFoundError(
      CLIP_VOCAB_FILE,
      `CLIP vocabulary ${CLIP_VOCAB_FILE} not found in the @hgm/backbone package (looked at ${candidates.join(', ')})`,
    );
  return found;
}

/** Loads the CLIP tokenizer from the shipped vocabulary, or from a given `.txt.gz` path. Node only. */
export async function loadClipTokenizer(path: string = clipVocabPath()): Promise<ClipTokenizer> {
  const bytes = await readFile(path).catch((e: NodeJS.ErrnoException) => {
    throw new InputNotFoundError(path, `${path}: cannot read the CLIP vocabulary (${e.code ?? e.message})`);
  });
  return ClipTokenizer.fromVocabBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
