import { expect } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@hgm/tensor';
import { describeBackends, expectClose } from '@hgm/tensor/testing';
import { linear } from './linear';

/** x Wᵀ + b on the host, in float64. */
function hostLinear(x: Float32Array, w: Float32Array, b: Float32Array, rows: number, inDim: number, outDim: number): Float32Array {
  const y = new Float32Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let s = b[o]!;
      for (let i = 0; i < inDim; i++) s += x[r * inDim + i]! * w[o * inDim + i]!;
      y[r * outDim + o] = s;
    }
  }
  return y;
}

describeBackends('linear', ({ it }) => {
  it('equals x Wᵀ + b for batched inputs, with and without bias, and keeps no tensor', async () => {
    const rng = new Rng(11);
    const xs = rng.normalArray(2 * 5 * 7);
    const ws = rng.normalArray(9 * 7);
    const bs = rng.normalArray(9);
    const x = tf.tensor3d(xs, [2, 5, 7]);
    const w = tf.tensor2d(ws, [9, 7]);
    const b = tf.tensor1d(bs);
    const before = tf.memory().numTensors;
    const y = linear(x, w, b);
    const y0 = linear(x, w);
    expect(tf.memory().numTensors - before).toBe(2);
    expect(y.shape).toEqual([2, 5, 9]);
    await expectClose(y, hostLinear(xs, ws, bs, 10, 7, 9), { atol: 1e-5, rtol: 1e-5, name: 'with bias' });
    await expectClose(y0, hostLinear(xs, ws, new Float32Array(9), 10, 7, 9), { atol: 1e-5, rtol: 1e-5, name: 'without bias' });
    tf.dispose([x, w, b, y, y0]);
  });

  it('has the gradients of x Wᵀ + b', async () => {
    const rng = new Rng(12);
    const x = rng.tensorNormal([3, 4]);
    const w = rng.tensorNormal([5, 4]);
    const b = rng.tensorNormal([5]);
    const loss = (f: (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.Tensor) => (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.square(f(a, c, d)));
    const got = tf.grads(loss((a, c, d) => linear(a, c, d)))([x, w, b]);
    const want = tf.grads(loss((a, c, d) => tf.add(tf.matMul(a, tf.transpose(c)), d)))([x, w, b]);
    for (let i = 0; i < 3; i++) await expectClose(got[i]!, want[i]!, { atol: 1e-4, rtol: 1e-4, name: ['dx', 'dW', 'db'][i]! });
    tf.dispose([x, w, b, ...got, ...want]);
  });

  it('names the shapes when the widths do not match', () => {
    const x = tf.zeros([2, 3]);
    const w = tf.zeros([4, 5]);
    expect(() => tf.tidy(() => linear(x, w))).toThrow(/width|inner|shape/i);
    tf.dispose([x, w]);
  });
});
