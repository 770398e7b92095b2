import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadClipTokenizer } from '@hgm/backbone/node';
import { decodeImage, encodePng, generateSample } from '@hgm/data';
import type { ClipTokenizer } from '@hgm/backbone';
import { imageHW } from '@hgm/tensor';
import { detectImage, frozenNeeds, loadSavedModel } from './model';

const demoModel = new Uint8Array(readFileSync(fileURLToPath(new URL('../assets/demo-model.safetensors', import.meta.url))));
let tokenizer: ClipTokenizer;

beforeAll(async () => {
  await tf.setBackend('cpu');
  tokenizer = await loadClipTokenizer();
});

describe('the demo model', () => {
  it('is the tiny model with random frozen weights, and runs an image without leaking tensors', async () => {
    const needs = await frozenNeeds(demoModel, 'demo');
    expect(needs.frozen).toEqual({ kind: 'random', seed: 0 });
    const m = await loadSavedModel(demoModel, 'demo', tokenizer);
    try {
      const s = generateSample('wood', 'stain', 'model-test', { size: 64 });
      const image = decodeImage(encodePng({ width: 64, height: 64, channels: 3, bitDepth: 8, data: s.image }), 'stain.png');
      const first = await detectImage(m.engine, image);
      const before = tf.memory().numTensors;
      const second = await detectImage(m.engine, image);
      expect(tf.memory().numTensors).toBe(before);
      expect(first.size).toBe(m.config.imageSize);
      const [height, width] = imageHW(first.size);
      expect(first.map.length).toBe(height * width);
      expect(first.rgb.length).toBe(height * width * 3);
      expect(second.score).toBe(first.score);
      expect(first.score).toBeGreaterThanOrEqual(0);
      expect(first.score).toBeLessThanOrEqual(1);
    } finally {
      m.engine.dispose();
    }
  });
});

describe('checkpoints that do not fit', () => {
  it('names the file and what is wrong', async () => {
    await expect(loadSavedModel(new Uint8Array([1, 2, 3]), 'junk.safetensors', tokenizer)).rejects.toThrow(
      /checkpoint junk.safetensors: cannot read it as safetensors/,
    );
    const { encodeSafetensors } = await import('@hgm/tensor');
    const other = encodeSafetensors({ w: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } }, { kind: 'something-else' });
    await expect(loadSavedModel(other, 'other.safetensors', tokenizer)).rejects.toThrow(/other.safetensors: not a model saved by hgm/);
  });
});
