// The parity runner reads a fixture's weights from weights.safetensors, weights.pth or weights.pt.
import { describe, it, expect, beforeAll } from 'vitest';
import { cp, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initNodeBackend } from '@hgm/tensor/node';
import { repoFixturesDir, safetensorsWithHeaderLength } from '@hgm/tensor/testing';
import { countResults, runParity } from './run-parity';

beforeAll(async () => {
  await initNodeBackend('cpu');
});

describe('fixture weights in PyTorch formats', () => {
  it('runs the dinov2 and dinov3 fixtures with weights.pth (torch.save) in place of weights.safetensors, with the same results', async () => {
    const root = await mkdtemp(join(tmpdir(), 'hgm-parity-'));
    try {
      for (const name of ['dinov2-tiny', 'dinov3-tiny']) {
        const folder = join(root, name);
        await cp(join(repoFixturesDir(), 'vit', name), folder, { recursive: true });
        await unlink(join(folder, 'weights.safetensors'));
        await cp(join(repoFixturesDir(), 'torch', `${name}.pth`), join(folder, 'weights.pth'));
      }
      const torch = await runParity(root);
      const safetensors = await runParity(join(repoFixturesDir(), 'vit', 'dinov2-tiny'));
      expect(torch.map((r) => r.error)).toEqual([undefined, undefined]);
      const counts = countResults(torch);
      expect(counts.failed).toBe(0);
      expect(counts.passed).toBe(countResults(safetensors).passed + countResults(await runParity(join(repoFixturesDir(), 'vit', 'dinov3-tiny'))).passed);
      // Same weights, same numbers: the rows of dinov2-tiny agree exactly with the safetensors run.
      expect(torch[0]!.rows).toEqual(safetensors[0]!.rows);
      await cp(join(repoFixturesDir(), 'torch', 'dinov2-tiny.pth'), join(root, 'dinov3-tiny', 'weights.pt'));
      const [twoFiles] = await runParity(join(root, 'dinov3-tiny'));
      expect(twoFiles!.error).toMatch(/expected exactly one of weights\.safetensors, weights\.pth, weights\.pt, found weights\.pth, weights\.pt/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('fixture weights whose safetensors header length looks like another format', () => {
  it('dinov2-tiny with its header padded to 0x1180 (first byte 0x80), 0x4b50 ("PK") and 0x10000 gives the rows of the original', async () => {
    const root = await mkdtemp(join(tmpdir(), 'hgm-parity-padded-'));
    try {
      const original = join(repoFixturesDir(), 'vit', 'dinov2-tiny');
      const [expected] = await runParity(original);
      const weights = new Uint8Array(await readFile(join(original, 'weights.safetensors')));
      for (const length of [0x1180, 0x4b50, 0x10000]) {
        const folder = join(root, `dinov2-tiny-${length.toString(16)}`);
        await cp(original, folder, { recursive: true });
        await writeFile(join(folder, 'weights.safetensors'), safetensorsWithHeaderLength(weights, length));
        const [r] = await runParity(folder);
        expect(r!.error, `header length 0x${length.toString(16)}`).toBeUndefined();
        expect(r!.rows).toEqual(expected!.rows);
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
