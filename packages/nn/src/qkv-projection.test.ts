import { expect } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, ShapeError } from '@hgm/tensor';
import { describeBackends, expectClose } from '@hgm/tensor/testing';
import { qkvProjection, qkvProjectionStacked } from './qkv-projection';

describeBackends('qkvProjection', ({ it }) => {
  it('gives q, k, v = thirds of x Wᵀ + b split into heads, for one and for several images', async () => {
    const rng = new Rng(41);
    for (const [b, n, c, heads] of [
      [1, 5, 8, 2],
      [3, 4, 12, 3],
    ] as const) {
      const d = c / heads;
      const xs = rng.normalArray(b * n * c);
      const ws = rng.normalArray(3 * c * c);
      const bs = rng.normalArray(3 * c);
      const x = tf.tensor3d(xs, [b, n, c]);
      const w = tf.tensor2d(ws, [3 * c, c]);
      const bias = tf.tensor1d(bs);
      const before = tf.memory().numTensors;
      const out = qkvProjection(x, w, bias, heads);
      const noBias = qkvProjection(x, w, undefined, heads);
      expect(tf.memory().numTensors - before).toBe(6);
      for (const [name, part] of [
        ['q', 0],
        ['k', 1],
        ['v', 2],
      ] as const) {
        const want = new Float32Array(b * heads * n * d);
        const wantNoBias = new Float32Array(b * heads * n * d);
        for (let i = 0; i < b; i++)
          for (let h = 0; h < heads; h++)
            for (let t = 0; t < n; t++)
              for (let j = 0; j < d; j++) {
                const o = part * c + h * d + j;
                let s = 0;
                for (let e = 0; e < c; e++) s += xs[(i * n + t) * c + e]! * ws[o * c + e]!;
                want[((i * heads + h) * n + t) * d + j] = s + bs[o]!;
                wantNoBias[((i * heads + h) * n + t) * d + j] = s;
              }
        expect(out[name].shape).toEqual([b, heads, n, d]);
        await expectClose(out[name], want, { atol: 1e-5, rtol: 1e-5, name: `${name} (B=${b})` });
        await expectClose(noBias[name], wantNoBias, { atol: 1e-5, rtol: 1e-5, name: `${name} without bias (B=${b})` });
      }
      tf.dispose([x, w, bias, out.q, out.k, out.v, noBias.q, noBias.k, noBias.v]);
    }
  });

  it('names the shapes that do not fit', () => {
    const x = tf.zeros([1, 2, 4]);
    const w = tf.zeros([12, 5]);
    expect(() => qkvProjection(x, w, undefined, 2)).toThrow(/\[3C, C\] = \[12, 4\].*\[12, 5\]/);
    const w2 = tf.zeros([12, 4]);
    expect(() => qkvProjection(x, w2, undefined, 3)).toThrow(/not divisible by 3 heads/);
    expect(() => qkvProjection(x, w, undefined, 2)).toThrow(ShapeError);
    tf.dispose([x, w, w2]);
  });

  it('has the gradients of linear + split + splitHeads', async () => {
    const rng = new Rng(42);
    const [x, w, b, r] = [rng.tensorNormal([2, 3, 4]), rng.tensorNormal([12, 4]), rng.tensorNormal([12]), rng.tensorNormal([3, 2, 2, 3, 2])];
    const weigh = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(tf.stack([q, k, v]), r));
    const got = tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => {
      const o = qkvProjection(a, c, d, 2);
      return weigh(o.q, o.k, o.v);
    })([x, w, b]);
    const want = tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => {
      const y = tf.add(tf.matMul(tf.reshape(a, [6, 4]), c, false, true), d);
      const [q, k, v] = tf.split(tf.reshape(y, [2, 3, 12]), 3, 2).map((t) => tf.transpose(tf.reshape(t, [2, 3, 2, 2]), [0, 2, 1, 3]));
      return weigh(q!, k!, v!);
    })([x, w, b]);
    for (let i = 0; i < 3; i++) await expectClose(got[i]!, want[i]!, { atol: 1e-4, rtol: 1e-4, name: ['dx', 'dW', 'db'][i]! });
    tf.dispose([x, w, b, r, ...got, ...want]);
  });

  it('qkvProjectionStacked holds q, k, v of qkvProjection as [3, B, heads, N, d]', async () => {
    const rng = new Rng(43);
    for (const b of [1, 2]) {
      const x = rng.tensorNormal([b, 4, 8]);
      const w = rng.tensorNormal([24, 8]);
      const bias = rng.tensorNormal([24]);
      const stacked = qkvProjectionStacked(x, w, bias, 2);
      const heads = qkvProjection(x, w, bias, 2);
      expect(stacked.shape).toEqual([3, b, 2, 4, 4]);
      const want = tf.stack([heads.q, heads.k, heads.v]);
      await expectClose(stacked, want, { atol: 1e-6, rtol: 1e-6, name: `stacked (B=${b})` });
      tf.dispose([x, w, bias, stacked, heads.q, heads.k, heads.v, want]);
    }
  });
});
