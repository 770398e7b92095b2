import * as tf from '@tensorflow/tfjs-core';
import { describe, it, expect, beforeAll } from 'vitest';
import { useBackend } from './testing';
import { disposeOwned } from './dispose-owned';

describe('disposeOwned', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('disposes every tensor in fields, arrays and nested objects, shared ones once, and leaves nothing behind', () => {
    const before = tf.memory().numTensors;
    const shared = tf.ones([2]);
    const out = {
      a: tf.zeros([3]),
      list: [tf.ones([1]), shared, null],
      nested: { b: tf.scalar(1), deeper: [{ c: tf.zeros([2, 2]) }] },
      again: shared,
      optional: null as tf.Tensor | null,
      missing: undefined as tf.Tensor | undefined,
      grid: [4, 4] as [number, number],
      ids: new Int32Array([1, 2]),
      name: 'x',
    };
    expect(tf.memory().numTensors - before).toBe(5);
    disposeOwned(out);
    expect(tf.memory().numTensors).toBe(before);
    expect(out.a.isDisposed && shared.isDisposed && out.nested.b.isDisposed).toBe(true);
  });

  it('keeps variables and the fields named in except', () => {
    const v = tf.variable(tf.zeros([2]));
    const borrowed = tf.ones([3]);
    const owned = tf.ones([3]);
    disposeOwned({ owned, params: [v], borrowed }, { except: ['borrowed'] });
    expect(owned.isDisposed).toBe(true);
    expect(v.isDisposed).toBe(false);
    expect(borrowed.isDisposed).toBe(false);
    tf.dispose([v, borrowed]);
  });

  it('does not descend into class instances (modules hold their own weights)', () => {
    class Holder {
      w = tf.ones([2]);
    }
    const h = new Holder();
    const t = tf.zeros([1]);
    disposeOwned({ t, h });
    expect(t.isDisposed).toBe(true);
    expect(h.w.isDisposed).toBe(false);
    h.w.dispose();
  });
});
