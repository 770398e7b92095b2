// Test-only helpers (not exported from the package).
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@hgm/tensor';
import type { ClipTokenizer } from '@hgm/backbone';
import { loadClipTokenizer } from '@hgm/backbone/node';
import { buildTinyModel } from './build';
import type { DualAnchorConfigInput } from './config';
import type { DualAnchorModel } from './dual-anchor-model';

let tokenizer: Promise<ClipTokenizer> | null = null;

/** The shipped CLIP tokenizer, loaded once per test file. */
export function testTokenizer(): Promise<ClipTokenizer> {
  tokenizer ??= loadClipTokenizer();
  return tokenizer;
}

/** A tiny model with seeded random frozen weights. */
export async function tinyModel(overrides: DualAnchorConfigInput = {}): Promise<DualAnchorModel> {
  return buildTinyModel({ tokenizer: await testTokenizer(), overrides });
}

/**
 * Synthetic images with masks: smooth random backgrounds, and in anomalous images a bright square whose
 * pixels form the mask. Half the batch is anomalous (odd indices).
 * @returns pixels [B, 3, S, S], masks [B, S, S], labels [B]
 */
export function syntheticBatch(batch: number, size: number, seed: number): { pixels: tf.Tensor4D; masks: tf.Tensor3D; labels: tf.Tensor1D } {
  const rng = new Rng(seed);
  const px = new Float32Array(batch * 3 * size * size);
  const mk = new Float32Array(batch * size * size);
  const labels = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    const anomalous = b % 2 === 1;
    labels[b] = anomalous ? 1 : 0;
    const side = Math.max(4, Math.floor(size / 4));
    const y0 = rng.int(size - side);
    const x0 = rng.int(size - side);
    const phase = rng.uniform(0, Math.PI * 2);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inside = anomalous && y >= y0 && y < y0 + side && x >= x0 && x < x0 + side;
        if (inside) mk[(b * size + y) * size + x] = 1;
        for (let c = 0; c < 3; c++) {
          const base = 0.5 * Math.sin((x + y) / 5 + phase + c) + 0.1 * rng.normal();
          px[((b * 3 + c) * size + y) * size + x] = inside ? 2.5 - 0.5 * c : base;
        }
      }
    }
  }
  return {
    pixels: tf.tensor4d(px, [batch, 3, size, size]),
    masks: tf.tensor3d(mk, [batch, size, size]),
    labels: tf.tensor1d(labels, 'int32'),
  };
}
