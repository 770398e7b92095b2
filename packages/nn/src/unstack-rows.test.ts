import { expect } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@hgm/tensor';
import { describeBackends, expectClose } from '@hgm/tensor/testing';
import { gatherRow, unstackRows } from './unstack-rows';

describeBackends('unstackRows', ({ it }) => {
  it('equals tf.unstack for several counts, and keeps no tensor', async () => {
    for (const n of [1, 3, 4, 7, 48]) {
      const x = tf.tensor3d(
        Float32Array.from({ length: n * 2 * 3 }, (_, i) => i),
        [n, 2, 3],
      );
      const before = tf.memory().numTensors;
      const parts = unstackRows(x);
      expect(tf.memory().numTensors - before).toBe(n);
      expect(parts).toHaveLength(n);
      for (let i = 0; i < n; i++) {
        expect(parts[i]!.shape).toEqual([2, 3]);
        expect(Array.from(await parts[i]!.data())).toEqual(Array.from({ length: 6 }, (_, j) => i * 6 + j));
      }
      tf.dispose([x, ...parts]);
    }
  });

  it('rejects a scalar', () => {
    const s = tf.scalar(1);
    expect(() => unstackRows(s)).toThrow(/scalar/);
    s.dispose();
  });

  it('gatherRow takes one row, has the slice gradient, and names a bad row', async () => {
    const rng = new Rng(51);
    const x = rng.tensorNormal([4, 3]);
    const w = rng.tensorNormal([1, 3]);
    for (const i of [0, 2, 3]) {
      const row = gatherRow(x, i);
      await expectClose(row, tf.slice(x, [i, 0], [1, 3]), { atol: 0, name: `row ${i}` });
      const [g] = tf.grads((m: tf.Tensor) => tf.sum(tf.mul(gatherRow(m, i), w)))([x]);
      const want = new Array<number>(12).fill(0);
      const wv = await w.data();
      for (let c = 0; c < 3; c++) want[i * 3 + c] = wv[c]!;
      expect(Array.from(await g!.data())).toEqual(want);
      tf.dispose([row, g!]);
    }
    expect(() => gatherRow(x, 4)).toThrow(/row 4 is outside \[0, 3\]/);
    tf.dispose([x, w]);
  });
});
