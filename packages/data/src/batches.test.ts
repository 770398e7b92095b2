import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@hgm/tensor/testing';
import { createBatchStream } from './batches';
import { nodeFileSystem } from './node-file-system';
import { readDataset } from './readers/read-dataset';
import { maskPng, rgbPng, writeTree } from './test-tree';
import type { DatasetFileSystem } from './file-system';
import type { DatasetIssue } from './errors';
import type { DatasetSample } from './sample';
import { DEFAULT_PREPROCESS_CONFIG, type PreprocessConfig } from './preprocess';

const preprocess: PreprocessConfig = { ...DEFAULT_PREPROCESS_CONFIG, size: 8 };
let root = '';
let samples: DatasetSample[] = [];

beforeAll(async () => {
  await useBackend('cpu');
  const files: Record<string, Uint8Array> = {};
  for (let i = 0; i < 7; i++) files[`obj/test/good/${String(i).padStart(3, '0')}.png`] = rgbPng(12, 10, i);
  for (let i = 0; i < 3; i++) {
    files[`obj/test/dent/${String(i).padStart(3, '0')}.png`] = rgbPng(12, 10, 50 + i);
    files[`obj/ground_truth/dent/${String(i).padStart(3, '0')}_mask.png`] = maskPng(12, 10, [0, 0, 6, 10]);
  }
  root = await writeTree(files);
  samples = (await readDataset(root, { fs: nodeFileSystem })).samples;
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function collect(stream: AsyncIterable<{ images: tf.Tensor; masks: tf.Tensor; samples: DatasetSample[] }>): Promise<string[][]> {
  const out: string[][] = [];
  for await (const b of stream) {
    out.push(b.samples.map((s) => s.imagePath.slice(root.length + 1)));
    b.images.dispose();
    b.masks.dispose();
  }
  return out;
}

describe('createBatchStream', () => {
  it('yields NCHW images and [B, S, S] masks aligned with labels', async () => {
    const stream = createBatchStream(samples, { fs: nodeFileSystem, preprocess, batchSize: 4 });
    const shapes: number[][] = [];
    let anomalousMaskSum = 0;
    for await (const b of stream) {
      shapes.push(b.images.shape, b.masks.shape);
      const m = (await b.masks.data()) as Float32Array;
      b.labels.forEach((label, i) => {
        const sum = m.subarray(i * 64, (i + 1) * 64).reduce((a, v) => a + v, 0);
        if (label === 0) expect(sum).toBe(0);
        else {
          // Left half of the 12x10 image is marked; after the centre crop to 8x8, about half the pixels.
          expect(sum).toBeGreaterThanOrEqual(24);
          expect(sum).toBeLessThanOrEqual(40);
          anomalousMaskSum += sum;
        }
        expect(b.hasMask[i]).toBe(label === 1);
      });
      b.images.dispose();
      b.masks.dispose();
    }
    expect(shapes).toEqual([
      [4, 3, 8, 8],
      [4, 8, 8],
      [4, 3, 8, 8],
      [4, 8, 8],
      [2, 3, 8, 8],
      [2, 8, 8],
    ]);
    expect(anomalousMaskSum).toBeGreaterThan(0);
    expect(stream.stats).toEqual({ batches: 3, samples: 10, skipped: [] });
  });

  it('shuffles reproducibly per (seed, epoch) and can drop the last batch', async () => {
    const order = (seed: number, epoch: number) =>
      createBatchStream(samples, { fs: nodeFileSystem, preprocess, batchSize: 3, shuffle: true, seed, epoch, dropLast: true });
    const a = await collect(order(5, 0));
    const b = await collect(order(5, 0));
    const c = await collect(order(5, 1));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a).toHaveLength(3);
    expect(a.flat()).toHaveLength(9);
    expect(order(5, 0).order.map((s) => s.imagePath)).toEqual(order(5, 0).order.map((s) => s.imagePath));
  });

  it('decodes at most `prefetch` batches ahead of the consumer', async () => {
    let reads = 0;
    const counting: DatasetFileSystem = { ...nodeFileSystem, readFile: (p) => (reads++, nodeFileSystem.readFile(p)) };
    const stream = createBatchStream(
      samples.filter((s) => s.label === 0),
      { fs: counting, preprocess, batchSize: 1, prefetch: 2 },
    );
    const it = stream[Symbol.asyncIterator]();
    const first = await it.next();
    first.value.images.dispose();
    first.value.masks.dispose();
    await new Promise((r) => setTimeout(r, 100));
    // One batch consumed, at most two waiting, and one being loaded.
    expect(reads).toBeLessThanOrEqual(4);
    expect(reads).toBeGreaterThanOrEqual(2);
    await it.return?.(undefined);
  });

  it('leaks no tensors when the consumer stops early', async () => {
    const before = tf.memory().numTensors;
    for await (const b of createBatchStream(samples, { fs: nodeFileSystem, preprocess, batchSize: 2 })) {
      b.images.dispose();
      b.masks.dispose();
      break;
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('fails naming a corrupt file, or skips it with a counted warning when asked', async () => {
    const broken = new Set([samples[2]!.imagePath]);
    const fs: DatasetFileSystem = {
      ...nodeFileSystem,
      readFile: async (p) => (broken.has(p) ? new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0, 1]) : nodeFileSystem.readFile(p)),
    };
    await expect(collect(createBatchStream(samples, { fs, preprocess, batchSize: 4 }))).rejects.toThrow(samples[2]!.imagePath);
    const seen: DatasetIssue[] = [];
    const stream = createBatchStream(samples, { fs, preprocess, batchSize: 4, skipCorrupt: true, onSkip: (i) => seen.push(i) });
    const batches = await collect(stream);
    expect(batches.flat()).toHaveLength(9);
    expect(stream.stats.skipped).toHaveLength(1);
    expect(seen[0]!.path).toBe(samples[2]!.imagePath);
    expect(seen[0]!.kind).toBe('skipped-corrupt');
  });

  it('validates its options', () => {
    expect(() => createBatchStream(samples, { fs: nodeFileSystem, preprocess, batchSize: 0 })).toThrow(/batchSize/);
    expect(() => createBatchStream(samples, { fs: nodeFileSystem, preprocess, batchSize: 1, prefetch: 0 })).toThrow(/prefetch/);
  });
});
