import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@hgm/tensor/testing';
import { predictImages, mapMaximum } from './predict-images';
import { ToyModel } from './testing/toy-model';

const config = { size: 32, patch: 8, width: 8, seed: 5 };

function image(seed: number): Float32Array {
  const out = new Float32Array(3 * 32 * 32);
  for (let i = 0; i < out.length; i++) out[i] = Math.sin(i * 0.37 + seed) * 1.5;
  return out;
}

describe('predictImages', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('gives each image the same score and map alone as in a batch', async () => {
    const model = new ToyModel(config);
    try {
      const images = [image(1), image(2), image(3)];
      const batch = await predictImages(model, images);
      expect(batch.scores.length).toBe(3);
      expect(batch.maps.length).toBe(3 * 32 * 32);
      for (let j = 0; j < images.length; j++) {
        const alone = await predictImages(model, [images[j]!]);
        expect(alone.scores[0]).toBeCloseTo(batch.scores[j]!, 6);
        expect(mapMaximum(alone.maps)).toBeCloseTo(mapMaximum(batch.maps.subarray(j * 1024, (j + 1) * 1024)), 6);
      }
    } finally {
      model.dispose();
    }
  });

  it('leaves no tensor behind over repeated calls', async () => {
    const model = new ToyModel(config);
    try {
      await predictImages(model, [image(4)]);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) await predictImages(model, [image(i), image(i + 1)]);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
  });

  it('names the image whose length is wrong', async () => {
    const model = new ToyModel(config);
    try {
      await expect(predictImages(model, [image(1), new Float32Array(5)])).rejects.toThrow('image 1 has 5 values, expected 3 * 32 * 32 = 3072');
    } finally {
      model.dispose();
    }
  });
});
