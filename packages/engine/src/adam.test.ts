import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@hgm/tensor/testing';
import { NamedAdam } from './adam';

beforeAll(async () => {
  await useBackend('cpu');
});

/** PyTorch's Adam on one scalar parameter, written out in float64 for comparison. */
function torchAdamReference(p0: number, grads: number[], lr: number, b1: number, b2: number, eps: number): number {
  let p = p0;
  let m = 0;
  let v = 0;
  grads.forEach((g, i) => {
    const t = i + 1;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    const denom = Math.sqrt(v) / Math.sqrt(1 - b2 ** t) + eps;
    p -= (lr / (1 - b1 ** t)) * (m / denom);
  });
  return p;
}

describe('NamedAdam', () => {
  it("follows PyTorch's update rule", () => {
    const x = tf.variable(tf.scalar(1.5));
    const adam = new NamedAdam(new Map([['x', x]]), { learningRate: 0.1, beta1: 0.5, beta2: 0.999, epsilon: 1e-8 });
    const grads = [0.3, -1.2, 2.0, 0.01];
    for (const g of grads) adam.apply(new Map([['x', tf.scalar(g)]]));
    expect(x.dataSync()[0]).toBeCloseTo(torchAdamReference(1.5, grads, 0.1, 0.5, 0.999, 1e-8), 5);
    adam.dispose();
    x.dispose();
  });

  it('minimises a quadratic and restores its state exactly in a fresh optimiser', async () => {
    const target = tf.tensor1d([1, -2, 3]);
    const run = async (steps: number, from?: { tensors: Awaited<ReturnType<NamedAdam['state']>>; value: Float32Array }) => {
      const w = tf.variable(from ? tf.tensor1d(from.value) : tf.zeros([3]));
      const adam = new NamedAdam(new Map([['w', w]]), { learningRate: 0.05, beta1: 0.5, beta2: 0.999, epsilon: 1e-8 });
      if (from) {
        const host = new Map([...from.tensors.tensors].map(([k, t]) => [k, { dtype: 'float32' as const, shape: t.shape, data: t.data as Float32Array }]));
        adam.restore(host, from.tensors.step);
      }
      for (let i = 0; i < steps; i++) await adam.minimize(() => tf.sum(tf.square(tf.sub(w, target))) as tf.Scalar);
      const state = await adam.state();
      const value = Float32Array.from(await w.data());
      adam.dispose();
      w.dispose();
      return { tensors: state, value };
    };
    const straight = await run(40);
    const half = await run(20);
    const resumed = await run(20, half);
    expect(Array.from(resumed.value)).toEqual(Array.from(straight.value));
    expect(resumed.tensors.step).toBe(40);
    const first = await run(1);
    const loss = (v: Float32Array) => v.reduce((s, x, i) => s + (x - [1, -2, 3][i]!) ** 2, 0);
    expect(loss(straight.value)).toBeLessThan(loss(first.value) / 4);
    target.dispose();
  });

  it('rejects a state of another shape, naming the tensor', () => {
    const w = tf.variable(tf.zeros([3]));
    const adam = new NamedAdam(new Map([['w', w]]));
    const bad = new Map([['adam.m.w', { dtype: 'float32' as const, shape: [2], data: new Float32Array(2) }]]);
    expect(() => adam.restore(bad, 3, 'ckpt')).toThrow(
      /ckpt: optimiser state does not match the model:\n {2}adam.m.w has shape \[2\], expected \[3\]\n {2}missing adam.v.w/,
    );
    adam.dispose();
    w.dispose();
  });
});
