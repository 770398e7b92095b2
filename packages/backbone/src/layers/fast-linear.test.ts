import { expect } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@hgm/tensor';
import { describeBackends, expectClose } from '@hgm/tensor/testing';
import { fastLinear } from './fast-linear';
import { linear } from './linear';

describeBackends('fastLinear', ({ it }) => {
  it('equals linear (x Wᵀ + b) and its gradients', async () => {
    const rng = new Rng(3);
    const x = rng.tensorNormal([2, 5, 7]);
    const w = rng.tensorNormal([4, 7]);
    const b = rng.tensorNormal([4]);
    const y = fastLinear(x, w, b);
    const ref = linear(x, w, b);
    expect(y.shape).toEqual([2, 5, 4]);
    await expectClose(y, ref, { atol: 1e-5, rtol: 1e-5, name: 'fastLinear' });
    const [gx, gw] = tf.grads((a: tf.Tensor, c: tf.Tensor) => tf.sum(tf.square(fastLinear(a, c, b))))([x, w]) as [tf.Tensor, tf.Tensor];
    const [rx, rw] = tf.grads((a: tf.Tensor, c: tf.Tensor) => tf.sum(tf.square(linear(a, c, b))))([x, w]) as [tf.Tensor, tf.Tensor];
    await expectClose(gx, rx, { atol: 1e-4, rtol: 1e-4, name: 'dx' });
    await expectClose(gw, rw, { atol: 1e-4, rtol: 1e-4, name: 'dW' });
    tf.dispose([x, w, b, y, ref, gx, gw, rx, rw]);
  });
});
