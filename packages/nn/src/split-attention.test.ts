import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { describeBackends } from '@hgm/tensor/testing';
import { scaledDotProductAttention } from './attention';
import { splitAttention } from './split-attention';

async function maxDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const x = await a.data();
  const y = await b.data();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

describeBackends('splitAttention', ({ it }) => {
  it('gives the values and gradients of whole attention when split by heads and by query rows', async () => {
    const [b, h, n, d] = [2, 3, 10, 4];
    const q = tf.randomNormal([b, h, n, d], 0, 1, 'float32', 1);
    const k = tf.randomNormal([b, h, n, d], 0, 1, 'float32', 2);
    const v = tf.randomNormal([b, h, n, d], 0, 1, 'float32', 3);
    const causal = tf.tensor2d(
      Array.from({ length: n * n }, (_, i) => (i % n > Math.floor(i / n) ? -1e9 : 0)),
      [n, n],
    );
    const perHead = tf.randomNormal([b, h, n, n], 0, 1, 'float32', 4);
    const whole = n * n * 4;
    const before = tf.memory().numTensors;
    for (const mask of [undefined, causal, perHead]) {
      const ref = scaledDotProductAttention(q, k, v, mask);
      // 2 heads per piece; 3 query rows per piece (one head's scores do not fit)
      for (const limit of [2 * whole, 3 * n * 4]) {
        const got = splitAttention(q, k, v, mask, undefined, limit);
        expect(got.shape).toEqual([b, h, n, d]);
        expect(await maxDiff(got, ref)).toBeLessThan(1e-5);
        const loss = (fn: (a: tf.Tensor) => tf.Tensor) => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(fn(a), v)));
        const g = loss((a) => splitAttention(a, k, v, mask, undefined, limit))(q);
        const gRef = loss((a) => scaledDotProductAttention(a, k, v, mask))(q);
        expect(await maxDiff(g, gRef)).toBeLessThan(1e-4);
        tf.dispose([got, g, gRef]);
      }
      ref.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(() => splitAttention(q, k, v, undefined, undefined, 8)).toThrow(
      /one query row's 10 scores \(40 bytes\) exceed the storage binding limit of 8 bytes \(maxStorageBufferBindingSize\)/,
    );
    tf.dispose([q, k, v, causal, perHead]);
  });
});
