import { describe, expect, it } from 'vitest';
import { memoryFileSystem } from './memory-file-system';
import { readDataset } from './readers/read-dataset';
import { loadSample } from './load-sample';
import { maskPng, rgbPng } from './test-tree';

describe('memoryFileSystem', () => {
  it('serves a dataset from memory (Uint8Array and Blob contents)', async () => {
    const fs = memoryFileSystem({
      'set/bottle/test/good/000.png': rgbPng(6, 6),
      'set/bottle/test/broken/000.png': new Blob([rgbPng(6, 6, 3) as BlobPart]),
      'set/bottle/ground_truth/broken/000_mask.png': maskPng(6, 6, [0, 0, 3, 3]),
    });
    expect(await fs.kind('set/bottle')).toBe('directory');
    expect(await fs.kind('set/bottle/test/good/000.png')).toBe('file');
    expect(await fs.kind('set/none')).toBeNull();
    expect((await fs.list('set/bottle')).map((e) => `${e.kind}:${e.name}`).sort()).toEqual(['directory:ground_truth', 'directory:test']);
    const index = await readDataset('set', { fs });
    expect(index.samples.map((s) => s.defectType)).toEqual(['broken', 'good']);
    const loaded = await loadSample(index.samples[0]!, fs);
    expect(loaded.mask!.data.reduce((a, b) => a + b, 0)).toBe(9);
    await expect(fs.readFile('set/x.png')).rejects.toThrow(/set\/x\.png: cannot read/);
  });
});
