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
  it('converts a checkpoint file to Hugging Face keys in F16 and back, tensor by tensor', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hgm-convert-'));
    try {
      const input = join(repoFixturesDir(), 'clip/clip-tiny/weights.safetensors');
      const hfPath = join(dir, 'hf.safetensors');
      const back = join(dir, 'openai.safetensors');
      expect(await convertCheckpointFile(input, hfPath, { to: 'hf-clip', floatDtype: 'F16' })).toMatchObject({ tensorCount: 110 });
      await convertCheckpointFile(hfPath, back, { floatDtype: 'F32' });
      const [a, b, h] = await Promise.all([openSafetensors(input), openSafetensors(back), openSafetensors(hfPath)]);
      try {
        expect(detectKeyFormat(h.tensorNames()).format).toBe('hf-clip');
        expect(h.info('visual_projection.weight')).toMatchObject({ dtype: 'F16', shape: [32, 128] });
        expect(h.metadata).toMatchObject({ keyFormat: 'hf-clip' });
        expect(b.tensorNames().sort()).toEqual(a.tensorNames().sort());
        for (const name of ['visual.proj', 'visual.transformer.resblocks.2.attn.in_proj_weight', 'logit_scale']) {
          const want = (await a.readHost(name)).data;
          const got = (await b.readHost(name)).data;
          for (let i = 0; i < want.length; i++) expect(got[i]).toBe(float16ToFloat32(float32ToFloat16(want[i]!)));
        }
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
