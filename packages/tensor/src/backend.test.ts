import { describe, it, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initNodeBackend } from './node';

describe('initNodeBackend', () => {
  it('starts cpu and wasm by name and computes with them', async () => {
    for (const name of ['cpu', 'wasm'] as const) {
      const r = await initNodeBackend(name, { wasmThreads: 1 });
      expect(r.chosen).toBe(name);
      expect(tf.getBackend()).toBe(name);
      const y = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]]));
      expect(Array.from(await y.data())).toEqual([11]);
      y.dispose();
    }
  });

  it('auto reports every backend it passed over with a reason', async () => {
    const r = await initNodeBackend('auto', { wasmThreads: 1 });
    const order = ['tensorflow', 'webgpu', 'wasm', 'webgl', 'cpu'];
    const chosenIndex = order.indexOf(r.chosen);
    expect(r.passedOver.map((p) => p.backend)).toEqual(order.slice(0, chosenIndex));
    for (const p of r.passedOver) {
      expect(['not-installed', 'no-adapter', 'init-failed']).toContain(p.reason);
      expect(p.detail.length).toBeGreaterThan(0);
    }
  });

  it('rejects an unknown backend name with the list of known ones', async () => {
    await expect(initNodeBackend('tpu' as never)).rejects.toThrow(/unknown backend "tpu"; expected one of auto, tensorflow/);
  });
});

describe('gradients', () => {
  it('are registered by backend start-up, so tf.grad works on tfjs-core alone', async () => {
    await initNodeBackend('cpu');
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.square(x)));
    const dx = g(tf.tensor1d([1, -2, 3]));
    expect(Array.from(await dx.data())).toEqual([2, -4, 6]);
    dx.dispose();
  });
});
