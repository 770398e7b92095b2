import { expect } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { describeBackends } from '@hgm/tensor/testing';
import { transposeMatrix } from './transpose-matrix';

describeBackends('transposeMatrix', ({ it }) => {
  it('is the exact transpose for grouped (64 x 5) and ungrouped (7 x 3, 16 x 2) row counts', async () => {
    for (const [r, c] of [
      [64, 5],
      [7, 3],
      [16, 2],
    ] as const) {
      const data = Float32Array.from({ length: r * c }, (_, i) => i * 0.5 - 3);
      const m = tf.tensor2d(data, [r, c]);
      const t = transposeMatrix(m);
      expect(t.shape).toEqual([c, r]);
      const got = await t.data();
      const want = new Float32Array(r * c);
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) want[j * r + i] = data[i * c + j]!;
      expect(Array.from(got)).toEqual(Array.from(want));
      tf.dispose([m, t]);
    }
  });

  it('rejects a tensor that is not a matrix', () => {
    const v = tf.zeros([2, 3, 4]);
    expect(() => transposeMatrix(v)).toThrow(/\[R, C\].*\[2, 3, 4\]/);
    v.dispose();
  });
});
