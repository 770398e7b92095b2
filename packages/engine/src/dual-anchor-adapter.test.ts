import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@hgm/tensor/testing';
import { imageHW } from '@hgm/tensor';
import { loadClipTokenizer } from '@hgm/backbone/node';
import { buildTinyModel } from '@hgm/dual-anchor';
import { DualAnchorEngineModel } from './dual-anchor-adapter';
import { FeatureCache, featureKey } from './feature-cache';
import { splitFeatures } from './features';
import { predictImages } from './predict-images';
import type { FeatureBatch } from './engine-model';

describe('DualAnchorEngineModel features', () => {
  let engineModel: DualAnchorEngineModel;
  let root: string;
  beforeAll(async () => {
    expect((await useBackend('cpu')).ok).toBe(true);
    engineModel = new DualAnchorEngineModel(buildTinyModel({ tokenizer: await loadClipTokenizer() }), { backbone: 'tiny', weights: 'seed-0' });
    root = await mkdtemp(join(tmpdir(), 'hgm-adapter-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const pixels = (batch: number, model: DualAnchorEngineModel = engineModel) => {
    const [height, width] = imageHW(model.preprocess.size);
    return tf.randomNormal([batch, 3, height, width], 0, 1, 'float32', 3) as tf.Tensor4D;
  };
  const disposeAll = (features: FeatureBatch) => {
    for (const t of features.values()) t.dispose();
  };

  it('stores the patch grid and the image size with the cached features and reads them back', async () => {
    const input = pixels(2);
    const features = await engineModel.encodeVision(input);
    input.dispose();
    const size = engineModel.preprocess.size;
    const patchCount = features.get('patch.0')!.shape[1]!;
    expect(await features.get('grid')!.array()).toEqual([Array(2).fill(Math.sqrt(patchCount)), Array(2).fill(Math.sqrt(patchCount))]);
    expect(await features.get('imageSize')!.array()).toEqual([
      [size, size],
      [size, size],
    ]);

    const cache = new FeatureCache(join(root, 'cache'));
    const perImage = await splitFeatures(features, 2);
    await cache.put('ab'.repeat(16), perImage[0]!);
    const cached = (await cache.get('ab'.repeat(16)))!;
    expect(cached.get('grid')!.shape).toEqual([2]);
    const batch: FeatureBatch = new Map([...cached].map(([name, t]) => [name, tf.tensor(t.data as Float32Array, [1, ...t.shape])]));
    const vision = engineModel.toVisionFeatures(batch);
    expect(vision.grid).toEqual([Math.sqrt(patchCount), Math.sqrt(patchCount)]);
    expect(vision.imageSize).toEqual([size, size]);
    const prediction = await engineModel.predict(batch);
    expect(prediction.anomalyMap.shape).toEqual([1, size, size]);
    prediction.anomalyMap.dispose();
    prediction.imageScore.dispose();
    disposeAll(batch);
    disposeAll(features);
  });

  it('refuses features whose stored layout does not fit them or the model, naming what it found', async () => {
    const input = pixels(1);
    const features = await engineModel.encodeVision(input);
    input.dispose();
    const patchCount = features.get('patch.0')!.shape[1]!;
    const withLayout = (name: string, value: number[][]): FeatureBatch => new Map([...features, [name, tf.tensor2d(value)]]);

    const wrongGrid = withLayout('grid', [[1, patchCount + 1]]);
    expect(() => engineModel.toVisionFeatures(wrongGrid)).toThrow(`grid [1, ${patchCount + 1}] does not match the ${patchCount} patch tokens`);
    wrongGrid.get('grid')!.dispose();

    const wrongSize = withLayout('imageSize', [[8, 16]]);
    expect(() => engineModel.toVisionFeatures(wrongSize)).toThrow(
      /features of a \[8, 16\] \(height, width\) input, expected the model's image size \[32, 32\]/,
    );
    wrongSize.get('imageSize')!.dispose();

    const missing: FeatureBatch = new Map([...features].filter(([name]) => name !== 'grid'));
    expect(() => engineModel.toVisionFeatures(missing)).toThrow('feature batch has no "grid" tensor');
    disposeAll(features);
  });

  it('a non-square model stores and checks its [rows, columns] grid and [height, width] size', async () => {
    const wide = new DualAnchorEngineModel(buildTinyModel({ tokenizer: await loadClipTokenizer(), overrides: { imageSize: [16, 40] } }), {
      backbone: 'tiny',
      weights: 'seed-0',
    });
    try {
      expect(wide.preprocess.size).toEqual([16, 40]);
      expect(wide.featureKey.resolution).toEqual([16, 40]);
      const input = pixels(1, wide);
      const features = await wide.encodeVision(input);
      input.dispose();
      expect(await features.get('grid')!.array()).toEqual([[2, 5]]);
      expect(await features.get('imageSize')!.array()).toEqual([[16, 40]]);
      const vision = wide.toVisionFeatures(features);
      expect(vision.grid).toEqual([2, 5]);
      const prediction = await wide.predict(features);
      expect(prediction.anomalyMap.shape).toEqual([1, 16, 40]);
      tf.dispose([prediction.anomalyMap, prediction.imageScore]);

      const transposed: FeatureBatch = new Map([...features, ['grid', tf.tensor2d([[5, 2]])]]);
      expect(() => wide.toVisionFeatures(transposed)).toThrow('grid [5, 2] (rows, columns), expected [2, 5] for a 16 x 40 input with patch 8');
      transposed.get('grid')!.dispose();
      const swapped: FeatureBatch = new Map([...features, ['imageSize', tf.tensor2d([[40, 16]])]]);
      expect(() => wide.toVisionFeatures(swapped)).toThrow(
        /features of a \[40, 16\] \(height, width\) input, expected the model's image size \[16, 40\] \(height 16 x width 40\)/,
      );
      swapped.get('imageSize')!.dispose();
      disposeAll(features);
    } finally {
      wide.dispose();
    }
  });

  it('useVisionExecutor runs the vision step on another executor; the cache key names it only when it is not exact', async () => {
    const other = new DualAnchorEngineModel(buildTinyModel({ tokenizer: await loadClipTokenizer() }), { backbone: 'tiny', weights: 'seed-0' });
    try {
      const tfjsBackbone = other.model.frozen.backbone;
      let calls = 0;
      const counting = { ...tfjsBackbone, encode: (p: tf.Tensor4D, layers: readonly number[]) => (calls++, tfjsBackbone.encode(p, layers)) };
      const bytes = new Uint8Array([1, 2, 3]);
      const tfjsKey = featureKey(bytes, other.featureKey);
      expect(tfjsKey).toBe(featureKey(bytes, engineModel.featureKey));

      other.useVisionExecutor(counting, { name: 'onnx', exact: true });
      expect(other.featureKey.executor).toBeUndefined();
      expect(featureKey(bytes, other.featureKey)).toBe(tfjsKey);
      const input = pixels(1);
      disposeAll(await other.encodeVision(input));
      expect(calls).toBe(1);

      other.useVisionExecutor(counting, { name: 'approximate', exact: false });
      expect(other.featureKey.executor).toBe('approximate');
      expect(featureKey(bytes, other.featureKey)).not.toBe(tfjsKey);
      other.useVisionExecutor(counting, { name: 'onnx', exact: true });
      expect(featureKey(bytes, other.featureKey)).toBe(tfjsKey);

      expect(() => other.useVisionExecutor({ ...counting, depth: counting.depth + 1 }, { name: 'onnx', exact: true })).toThrow(/useBackbone needs depth/);
      input.dispose();
    } finally {
      other.model.dispose();
    }
  });
});

describe('DualAnchorEngineModel predictions with static prompts', () => {
  it('runs the text tower once over several detection batches, with the scores and maps of a run per batch', async () => {
    expect((await useBackend('cpu')).ok).toBe(true);
    const model = buildTinyModel({ tokenizer: await loadClipTokenizer(), overrides: { modules: { hgm: false, refiner: false, dsp: false } } });
    const engineModel = new DualAnchorEngineModel(model, { backbone: 'tiny', weights: 'seed-0' });
    const [height, width] = imageHW(engineModel.preprocess.size);
    const images = Array.from({ length: 3 }, (_, j) => Float32Array.from({ length: 3 * height * width }, (_, i) => Math.sin(i * 0.13 + j)));
    const fresh = [];
    for (const image of images) {
      model.dropTextCache();
      fresh.push(await predictImages(engineModel, [image]));
    }
    model.dropTextCache();
    const spy = vi.spyOn(model.frozen.text, 'forward');
    const kept = [];
    for (const image of images) kept.push(await predictImages(engineModel, [image]));
    expect(spy).toHaveBeenCalledTimes(1);
    expect(kept.map((k) => [Array.from(k.scores), Array.from(k.maps)])).toEqual(fresh.map((k) => [Array.from(k.scores), Array.from(k.maps)]));
    spy.mockRestore();
    engineModel.dispose();
  }, 60_000);
});
