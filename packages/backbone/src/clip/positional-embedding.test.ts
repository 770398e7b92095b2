import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { expectClose, useBackend } from '@hgm/tensor/testing';
import { Rng } from '@hgm/tensor';
import { interpolatePositionalEmbedding } from './positional-embedding';

describe('positional table resize (bilinear, align_corners=False)', () => {
  beforeAll(async () => {
    expect((await useBackend('cpu')).ok).toBe(true);
  });

  it('keeps the CLS row and agrees with tf.image.resizeBilinear (half-pixel centres) on the patch rows', async () => {
    const rng = new Rng(7);
    const width = 5;
    for (const [g, target] of [
      [4, 6],
      [24, 37],
      [6, 4],
    ] as const) {
      const table = rng.tensorNormal([g * g + 1, width]) as tf.Tensor2D;
      const out = interpolatePositionalEmbedding(table, [target, target]);
      expect(out.shape).toEqual([target * target + 1, width]);
      const cls = tf.slice(out, [0, 0], [1, width]);
      await expectClose(cls, tf.slice(table, [0, 0], [1, width]), { atol: 0, rtol: 0, name: 'CLS row' });
      const grid = tf.reshape(tf.slice(table, [1, 0], [g * g, width]), [1, g, g, width]) as tf.Tensor4D;
      const ref = tf.reshape(tf.image.resizeBilinear(grid, [target, target], false, true), [target * target, width]);
      await expectClose(tf.slice(out, [1, 0], [target * target, width]), ref, { atol: 1e-5, rtol: 1e-5, name: `${g} -> ${target}` });
      tf.dispose([table, out, cls, grid, ref]);
    }
  });

  it('returns a copy at the native grid and rejects non-square tables', () => {
    const t = tf.ones([17, 3]) as tf.Tensor2D;
    const same = interpolatePositionalEmbedding(t, [4, 4]);
    expect(same).not.toBe(t);
    expect(() => interpolatePositionalEmbedding(tf.ones([16, 3]) as tf.Tensor2D, [4, 4])).toThrow(/1 \+ a square number/);
    tf.dispose([t, same]);
  });
});
