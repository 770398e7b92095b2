import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { describeBackends, maxRelativeError } from '@hgm/tensor/testing';
import { loadClipTokenizer } from '@hgm/backbone/node';
import { buildTinyModel } from '@hgm/dual-anchor';
import { DualAnchorEngineModel } from './dual-anchor-adapter';
import { accumulateGradients } from './gradient-accumulation';
import type { FeatureBatch } from './engine-model';

describeBackends('gradient accumulation over micro-batches', ({ it }) => {
  it('gives the loss, terms and gradients of the whole batch (Gumbel noise on) within 1e-5 relative, and frees every tensor', async () => {
    const model = new DualAnchorEngineModel(buildTinyModel({ tokenizer: await loadClipTokenizer() }), { backbone: 'tiny', weights: 'seed-0' });
    const b = 5;
    const pixels = tf.randomNormal([b, 3, 32, 32], 0, 1, 'float32', 3) as tf.Tensor4D;
    const features = await model.encodeVision(pixels);
    const masks = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([b, 32, 32], 0, 1, 'float32', 4), 0.8), 'float32') as tf.Tensor3D);
    const labels = tf.tensor1d([0, 1, 1, 0, 1], 'float32');
    const trainable = new Map(
      model.parameters
        .entries()
        .filter((p) => p.trainable)
        .map((p) => [p.name, p.variable] as const),
    );
    const rowsOf = (offset: number, rows: number) => {
      const f: FeatureBatch = new Map([...features].map(([k, t]) => [k, tf.slice(t, offset, rows)]));
      const m = tf.slice(masks, offset, rows);
      const l = tf.slice(labels, offset, rows);
      return { loss: (rng: Parameters<typeof model.loss>[3]) => model.loss(f, m, l, rng), dispose: () => tf.dispose([...f.values(), m, l]) };
    };
    const before = tf.memory().numTensors;
    const read = async (micro: number) => {
      const r = await accumulateGradients(trainable, b, micro, 'seed:noise:1:1', rowsOf);
      const grads = new Map<string, Float32Array>();
      for (const [name, g] of r.grads) grads.set(name, (await g.data()) as Float32Array);
      tf.dispose([...r.grads.values()]);
      return { ...r, grads };
    };
    const whole = await read(b);
    let largest = 0;
    for (const g of whole.grads.values()) for (const x of g) largest = Math.max(largest, Math.abs(x));
    // a gradient that is zero in exact arithmetic is float noise on wasm and webgpu (the key bias of softmax
    // attention: softmax does not change when every logit of a row moves by the same amount); it is measured
    // against a thousandth of the largest gradient of the model
    const floor = 1e-3 * largest;
    expect(whole.microBatches).toBe(1);
    expect(whole.grads.size).toBe(trainable.size);
    for (const micro of [1, 2]) {
      const split = await read(micro);
      expect(split.microBatches).toBe(Math.ceil(b / micro));
      expect(Math.abs(split.loss - whole.loss)).toBeLessThan(1e-5 * Math.abs(whole.loss));
      for (const [k, v] of Object.entries(whole.terms)) expect(Math.abs(split.terms[k]! - v), k).toBeLessThan(1e-5 * Math.max(1e-3, Math.abs(v)));
      for (const [name, g] of whole.grads) expect(maxRelativeError(split.grads.get(name)!, g, floor), `${name} at micro-batch ${micro}`).toBeLessThan(1e-5);
    }
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
    tf.dispose([pixels, masks, labels, ...features.values()]);
    model.dispose();
  }, 120_000);
});
