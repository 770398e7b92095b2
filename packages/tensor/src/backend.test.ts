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

describe('describeAdapter', () => {
  it('tells software adapters from hardware ones', async () => {
    const { describeAdapter } = await import('./backend');
    expect(describeAdapter(null)).toEqual({ available: false, software: false, description: 'no adapter' });
    expect(describeAdapter({ info: { vendor: 'mesa', architecture: 'software', device: 'llvmpipe', description: 'llvmpipe: Mesa 25' } }).software).toBe(true);
    expect(describeAdapter({ isFallbackAdapter: true, info: {} }).software).toBe(true);
    expect(describeAdapter({ info: { vendor: 'nvidia', architecture: 'hopper', device: 'H200', description: 'NVIDIA H200' } })).toEqual({
      available: true,
      software: false,
      description: 'nvidia hopper H200 NVIDIA H200',
    });
  });

  it('auto passes over a software WebGPU adapter, naming it', async () => {
    const { nodeBackendLoaders } = await import('./node');
    const check = await nodeBackendLoaders().prepareWebgpu!();
    const adapter = typeof check === 'boolean' ? { available: check, software: false, description: '' } : check;
    const r = await initNodeBackend('auto', { wasmThreads: 1 });
    const webgpu = r.passedOver.find((p) => p.backend === 'webgpu');
    if (!adapter.available) {
      expect(webgpu).toEqual({ backend: 'webgpu', reason: 'no-adapter', detail: 'no WebGPU adapter was found' });
    } else if (adapter.software) {
      expect(webgpu?.detail).toBe(`only a software WebGPU adapter (${adapter.description}), slower than wasm; ask for webgpu by name to use it`);
      expect(r.chosen).not.toBe('webgpu');
    } else {
      expect(r.chosen === 'webgpu' || r.chosen === 'tensorflow').toBe(true);
    }
  });
});

describe('auto order and start failures', () => {
  it('auto follows a given candidate order and reports the ones it passed over', async () => {
    const r = await initNodeBackend('auto', { wasmThreads: 1, autoOrder: ['tensorflow', 'cpu'] });
    expect(r.chosen).toBe('cpu');
    expect(r.passedOver.map((p) => p.backend)).toEqual(['tensorflow']);
  });

  it('throws a BackendStartError listing every backend tried', async () => {
    const { initBackend, BackendStartError } = await import('./backend');
    const none = { importModule: async () => undefined };
    const err = await initBackend('auto', none, { autoOrder: ['wasm', 'cpu'] }).catch((e) => e);
    expect(err).toBeInstanceOf(BackendStartError);
    expect(err.passedOver).toEqual([
      { backend: 'wasm', reason: 'not-installed', detail: '@tensorflow/tfjs-backend-wasm is not installed' },
      { backend: 'cpu', reason: 'not-installed', detail: '@tensorflow/tfjs-backend-cpu is not installed' },
    ]);
    expect(err.message).toBe(
      'no tfjs backend could be started for "auto":\n  wasm: not-installed (@tensorflow/tfjs-backend-wasm is not installed)\n  cpu: not-installed (@tensorflow/tfjs-backend-cpu is not installed)',
    );
  });
});
