import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@hgm/tensor/testing';
import { loadClipTokenizer } from '@hgm/backbone/node';
import { buildTinyModel } from '@hgm/dual-anchor';
import { DualAnchorEngineModel } from './dual-anchor-adapter';
import { FeatureCache, featureKey } from './feature-cache';
import { splitFeatures } from './features';
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

  const pixels = (batch: number) => {
    const size = engineModel.preprocess.size;
    return tf.randomNormal([batch, 3, size, size], 0, 1, 'float32', 3) as tf.Tensor4D;
  };
  const disposeAll = (features: FeatureBatch) => {
    for (const t of features.values()) t.dispose();
  };

  it('stores the patch grid and the image size with the cached features and reads them back', async () => {
    const input = pixels(2);
    const features = engineModel.encodeVision(input);
    input.dispose();
    const size = engineModel.preprocess.size;
    const patchCount = features.get('patch.0')!.shape[1]!;
    expect(await features.get('grid')!.array()).toEqual([Array(2).fill(Math.sqrt(patchCount)), Array(2).fill(Math.sqrt(patchCount))]);
    expect(await features.get('imageSize')!.array()).toEqual([[size, size], [size, size]]);

    const cache = new FeatureCache(join(root, 'cache'));
    const perImage = await splitFeatures(features, 2);
    await cache.put('ab'.repeat(16), perImage[0]!);
    const cached = (await cache.get('ab'.repeat(16)))!;
    expect(cached.get('grid')!.shape).toEqual([2]);
    const batch: FeatureBatch = new Map([...cached].map(([name, t]) => [name, tf.tensor(t.data as Float32Array, [1, ...t.shape])]));
    const vision = engineModel.toVisionFeatures(batch);
    expect(vision.grid).toEqual([Math.sqrt(patchCount), Math.sqrt(patchCount)]);
    expect(vision.imageSize).toEqual([size, size]);
    const prediction = engineModel.predict(batch);
    expect(prediction.anomalyMap.shape).toEqual([1, size, size]);
    prediction.anomalyMap.dispose();
    prediction.imageScore.dispose();
    disposeAll(batch);
    disposeAll(features);
  });

  it('refuses features whose stored layout does not fit them or the model, naming what it found', () => {
    const input = pixels(1);
    const features = engineModel.encodeVision(input);
    input.dispose();
    const patchCount = features.get('patch.0')!.shape[1]!;
    const withLayout = (name: string, value: number[][]): FeatureBatch => new Map([...features, [name, tf.tensor2d(value)]]);

    const wrongGrid = withLayout('grid', [[1, patchCount + 1]]);
    expect(() => engineModel.toVisionFeatures(wrongGrid)).toThrow(`grid [1, ${patchCount + 1}] does not match the ${patchCount} patch tokens`);
    wrongGrid.get('grid')!.dispose();

    const wrongSize = withLayout('imageSize', [[8, 16]]);
    expect(() => engineModel.toVisionFeatures(wrongSize)).toThrow(/features of a \[8, 16\] input, expected the model's image size/);
    wrongSize.get('imageSize')!.dispose();

    const missing: FeatureBatch = new Map([...features].filter(([name]) => name !== 'grid'));
    expect(() => engineModel.toVisionFeatures(missing)).toThrow('feature batch has no "grid" tensor');
    disposeAll(features);
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
      disposeAll(other.encodeVision(input));
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
