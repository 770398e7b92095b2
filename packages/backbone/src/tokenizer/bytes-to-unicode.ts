/**
 * The byte-to-character table of CLIP's (and GPT-2's) byte-level BPE: printable Latin-1 bytes
 * (`!`..`~`, `¡`..`¬`, `®`..`ÿ`) map to themselves, the other 68 bytes to U+0100.. in byte order, so
 * that every byte string is a string of visible characters.
 *
 * @returns the character of each byte (index = byte), in the vocabulary's order of bytes
 */
export function bytesToUnicode(): { byteToChar: string[]; vocabOrder: number[] } {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const byteToChar = new Array<string>(256);
  for (const b of printable) byteToChar[b] = String.fromCharCode(b);
  const vocabOrder = [...printable];
  let next = 0;
  for (let b = 0; b < 256; b++) {
    if (byteToChar[b] !== undefined) continue;
    byteToChar[b] = String.fromCharCode(256 + next);
    next++;
    vocabOrder.push(b);
  }
  return { byteToChar, vocabOrder };
}
