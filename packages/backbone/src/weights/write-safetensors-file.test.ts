import { describe, it, expect } from 'vitest';
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensors } from '@hgm/tensor/node';
import { repoFixturesDir } from '@hgm/tensor/testing';
import { float16ToFloat32, float32ToFloat16 } from '@hgm/tensor';
import { convertCheckpointFile, writeSafetensorsStreamed } from './write-safetensors-file';
import { detectKeyFormat } from './key-formats';

describe('writeSafetensorsStreamed / convertCheckpointFile', () => {
  it('converts a checkpoint file to Hugging Face keys in F16 and back to official F32, tensor by tensor', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hgm-convert-'));
    try {
      const input = join(repoFixturesDir(), 'vit/dinov2-tiny/weights.safetensors');
      const hfPath = join(dir, 'hf.safetensors');
      const back = join(dir, 'official.safetensors');
      expect(await convertCheckpointFile(input, hfPath, { to: 'hf-dinov2', floatDtype: 'F16' })).toMatchObject({ tensorCount: 62 });
      await convertCheckpointFile(hfPath, back, { floatDtype: 'F32' });
      const [a, b, h] = await Promise.all([openSafetensors(input), openSafetensors(back), openSafetensors(hfPath)]);
      try {
        expect(detectKeyFormat(h.tensorNames()).format).toBe('hf-dinov2');
        expect(h.info('encoder.layer.1.attention.attention.key.weight')).toMatchObject({ dtype: 'F16', shape: [64, 64] });
        expect(h.metadata).toMatchObject({ keyFormat: 'hf-dinov2' });
        expect(b.tensorNames().sort()).toEqual(a.tensorNames().sort());
        const faults: string[] = [];
        for (const name of a.tensorNames()) {
          const want = (await a.readHost(name)).data;
          const got = (await b.readHost(name)).data;
          for (let i = 0; i < want.length; i++) {
            if (got[i] !== float16ToFloat32(float32ToFloat16(want[i]!))) faults.push(`${name}[${i}]: ${got[i]} for ${want[i]}`);
          }
        }
        expect(faults.slice(0, 5)).toEqual([]);
      } finally {
        await Promise.all([a.close(), b.close(), h.close()]);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a producer that gives the wrong number of bytes and leaves no file behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hgm-write-'));
    try {
      const path = join(dir, 'x.safetensors');
      await expect(writeSafetensorsStreamed(path, [{ name: 'w', dtype: 'F32', shape: [4] }], () => [new Uint8Array(8), new Uint8Array(4)])).rejects.toThrow(
        /tensor w \[4\] F32 needs 16 bytes, the producer gave 12/,
      );
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
