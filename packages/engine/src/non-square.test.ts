import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useBackend } from '@hgm/tensor/testing';
import { loadClipTokenizer } from '@hgm/backbone/node';
import { buildTinyModel } from '@hgm/dual-anchor';
import { decodeImage, nodeFileSystem, readDatasetFromDisk, writeSyntheticDataset, type DatasetSample } from '@hgm/data/node';
import { DualAnchorEngineModel } from './dual-anchor-adapter';
import { train } from './trainer';
import { evaluate } from './evaluator';
import { detect } from './detector';

// The tiny Dual-Anchor model (patch 8) at height 24 x width 40: a 3 x 5 patch grid.
const SIZE = [24, 40] as const;

describe('a non-square input size through training, the feature cache and evaluation', () => {
  let root: string;
  let samples: DatasetSample[];
  const build = async () =>
    new DualAnchorEngineModel(buildTinyModel({ tokenizer: await loadClipTokenizer(), overrides: { imageSize: [...SIZE] } }), {
      backbone: 'tiny',
      weights: 'seed-0',
    });

  beforeAll(async () => {
    expect((await useBackend('cpu')).ok).toBe(true);
    root = await mkdtemp(join(tmpdir(), 'hgm-non-square-'));
    await writeSyntheticDataset(join(root, 'data'), { seed: 4, size: 32, domains: ['wood'], kinds: ['scratch'], trainGood: 2, testGood: 2, testPerKind: 2 });
    const index = await readDatasetFromDisk(join(root, 'data'), { format: 'mvtec' });
    // the test split (normal and anomalous images with masks) serves for both training and evaluation here
    samples = index.samples.filter((s) => s.split === 'test');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('trains a few steps, evaluates from the cache, and writes maps at the image size and at the model size', async () => {
    const cacheDir = join(root, 'cache');
    const model = await build();
    const trainCounters = { encoderCalls: 0, encodedImages: 0 };
    try {
      expect(model.preprocess.size).toEqual([...SIZE]);
      const r = await train({
        model,
        samples,
        fs: nodeFileSystem,
        outDir: join(root, 'run'),
        featureCacheDir: cacheDir,
        epochs: 2,
        batchSize: 2,
        counters: trainCounters,
      });
      expect(trainCounters.encodedImages).toBe(samples.length);
      expect(r.featureCache.writes).toBe(samples.length);
      expect(r.history.length).toBe(2 * Math.ceil(samples.length / 2));
      expect(r.history.every((h) => Number.isFinite(h.loss))).toBe(true);

      // Evaluation reads every feature from the cache: the encoder does not run again.
      const evalCounters = { encoderCalls: 0, encodedImages: 0 };
      const outDir = join(root, 'eval');
      const e = await evaluate({
        model,
        samples,
        fs: nodeFileSystem,
        featureCacheDir: cacheDir,
        outDir,
        saveMaps: true,
        keepExamples: 1,
        counters: evalCounters,
      });
      expect(evalCounters.encoderCalls).toBe(0);
      expect(e.categories.map((c) => c.category)).toEqual(['wood']);
      for (const k of ['image_auroc', 'pixel_auroc']) expect('value' in e.categories[0]!.metrics[k]!).toBe(true);
      const overlays = e.files.filter((f) => f.endsWith('_overlay.png'));
      expect(overlays.length).toBe(samples.length);
      for (const f of overlays) {
        const png = await decodeImage(await readFile(f), f);
        expect([png.width, png.height]).toEqual([32, 32]); // the image's own size
      }
      const example = await decodeImage(e.examples[0]!.heatmap, 'example.png');
      expect([example.width, example.height]).toEqual([SIZE[1], SIZE[0]]);

      const atModel = await evaluate({
        model,
        samples,
        fs: nodeFileSystem,
        featureCacheDir: cacheDir,
        outDir: join(root, 'eval-model'),
        saveMaps: true,
        mapSize: 'model',
        counters: evalCounters,
      });
      expect(evalCounters.encoderCalls).toBe(0);
      const small = atModel.files.find((f) => f.endsWith('_heatmap.png'))!;
      const png = await decodeImage(await readFile(small), small);
      expect([png.width, png.height]).toEqual([SIZE[1], SIZE[0]]);
    } finally {
      model.dispose();
    }

    // A fresh model of the same configuration (a second run) finds every feature in the cache.
    const again = await build();
    try {
      const counters = { encoderCalls: 0, encodedImages: 0 };
      const r2 = await train({
        model: again,
        samples,
        fs: nodeFileSystem,
        outDir: join(root, 'run-2'),
        featureCacheDir: cacheDir,
        epochs: 1,
        batchSize: 2,
        counters,
      });
      expect(counters.encoderCalls).toBe(0);
      expect(r2.featureCache.hits).toBe(samples.length);
      expect(r2.featureCache.writes).toBe(0);
    } finally {
      again.dispose();
    }
  });

  it('detects at a non-square size: maps at the image size by default, at height x width of the model with mapSize model', async () => {
    const model = await build();
    try {
      const images = [samples[0]!.imagePath];
      const r = await detect({ model, images, fs: nodeFileSystem, outDir: join(root, 'detect') });
      const original = await decodeImage(await readFile(r.detections[0]!.overlay!), 'overlay.png');
      expect([original.width, original.height]).toEqual([32, 32]);
      const m = await detect({ model, images, fs: nodeFileSystem, outDir: join(root, 'detect-model'), mapSize: 'model' });
      const small = await decodeImage(await readFile(m.detections[0]!.heatmap!), 'heatmap.png');
      expect([small.width, small.height]).toEqual([SIZE[1], SIZE[0]]);
    } finally {
      model.dispose();
    }
  });

  it('a square model keeps its cache keys: 32 and [32, 32] are the same size', async () => {
    const tokenizer = await loadClipTokenizer();
    const square = new DualAnchorEngineModel(buildTinyModel({ tokenizer }), { backbone: 'tiny', weights: 'seed-0' });
    const pair = new DualAnchorEngineModel(buildTinyModel({ tokenizer, overrides: { imageSize: [32, 32] } }), { backbone: 'tiny', weights: 'seed-0' });
    try {
      expect(square.featureKey.resolution).toBe(32);
      expect(pair.featureKey).toEqual(square.featureKey);
      expect(pair.model.config.imageSize).toBe(32);
    } finally {
      square.dispose();
      pair.dispose();
    }
  });
});
