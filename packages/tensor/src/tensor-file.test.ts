import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, SafetensorsReader } from './safetensors';
import { openTensorSource, sniffTensorFileFormat } from './tensor-file';
import { TorchCheckpointReader } from './torch-checkpoint';
import { bufferSource } from './byte-source';
import { openTensorFile } from './node';
import { InvalidFileError, SafetensorsError } from './errors';
import { repoFixturesDir, safetensorsWithHeaderLength } from './testing';

const tensors = { 'a.weight': { dtype: 'F32' as const, shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) } };

// Header lengths whose first bytes look like another format: 0x80 (the pickle PROTO opcode, 1 file in 256),
// 0x4b50 (the bytes 50 4b, "PK" as a zip archive starts) and 0x10000 (its low two bytes 00 00).
const TRICKY_LENGTHS = [
  ['0x180 (first byte 0x80)', 0x180],
  ['0x4b50 (first bytes "PK")', 0x4b50],
  ['0x10000 (first bytes 00 00)', 0x10000],
] as const;

describe('telling safetensors files from PyTorch checkpoints', () => {
  for (const [what, length] of TRICKY_LENGTHS) {
    it(`a safetensors file whose header length is ${what} opens as safetensors, with its tensors`, async () => {
      const bytes = safetensorsWithHeaderLength(encodeSafetensors(tensors), length);
      expect(bytes[0]).toBe(length & 0xff);
      expect(sniffTensorFileFormat(bytes.subarray(0, 16), bytes.length)).toBe('safetensors');
      const r = await openTensorSource(bufferSource(bytes, 'padded.safetensors'));
      expect(r).toBeInstanceOf(SafetensorsReader);
      expect([...(await r.readHost('a.weight')).data]).toEqual([1, 2, 3, 4, 5, 6]);
      await r.close();
    });
  }

  it('PyTorch checkpoints (torch.save zip, TorchScript zip, legacy pickle stream) still open as PyTorch', async () => {
    const torch = join(repoFixturesDir(), 'torch');
    for (const file of ['tiny-dinov3.pth', 'tiny-clip.pt', 'dinov2-tiny.pth', 'dinov2-tiny-legacy.pth']) {
      const bytes = new Uint8Array(await readFile(join(torch, file)));
      expect(sniffTensorFileFormat(bytes.subarray(0, 16), bytes.length), file).toBe('pytorch');
      const r = await openTensorFile(join(torch, file));
      expect(r, file).toBeInstanceOf(TorchCheckpointReader);
      await r.close();
    }
    // a legacy (non-zip) torch.save stream: PROTO 2, then the magic number
    expect(sniffTensorFileFormat(Uint8Array.of(0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8), 1000)).toBe('pytorch');
  });

  it('a file of another format is refused naming the file and its first bytes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hgm-sniff-'));
    try {
      const cases: [string, Uint8Array][] = [
        ['text.bin', new TextEncoder().encode('this is not a weights file')],
        ['pickle-protocol-9.pth', Uint8Array.of(0x80, 0x09, 1, 2, 3, 4, 5, 6, 7, 8)],
        ['empty.safetensors', new Uint8Array(0)],
      ];
      for (const [name, bytes] of cases) {
        const path = join(dir, name);
        await writeFile(path, bytes);
        const e = await openTensorFile(path).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(e, name).toBeInstanceOf(InvalidFileError);
        expect((e as InvalidFileError).file).toBe(path);
        expect((e as Error).message).toContain(path);
        if (bytes.length > 0) expect((e as Error).message).toContain([...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' '));
        else expect((e as Error).message).toContain('empty');
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a truncated safetensors file is reported as one', async () => {
    const bytes = encodeSafetensors(tensors);
    const e = await openTensorSource(bufferSource(bytes.subarray(0, 40), 'cut.safetensors')).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(SafetensorsError);
    expect((e as Error).message).toMatch(/cut\.safetensors: header length \d+ runs past the end of the file \(40 bytes\)/);
  });
});
