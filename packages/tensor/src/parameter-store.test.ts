import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { ParameterStore, joinName } from './parameter-store';
import { StateDictError } from './errors';
import { SafetensorsReader, type HostTensor } from './safetensors';
import { initNodeBackend } from './node';
import type { RenameRule } from './rename-rules';
import { renameKeys } from './rename-rules';

beforeAll(async () => {
  await initNodeBackend('cpu');
});

const host = (shape: number[], fill: number): HostTensor => ({ dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill) });

function makeStore(): ParameterStore {
  const s = new ParameterStore();
  s.add('encoder.weight', tf.zeros([4, 3]), { trainable: false });
  s.add('encoder.bias', tf.zeros([4]), { trainable: false });
  s.add('head.weight', tf.zeros([2, 4]), { trainable: true });
  return s;
}

describe('ParameterStore', () => {
  it('counts all and trainable parameters and exposes only trainable variables', () => {
    const s = makeStore();
    expect(s.count()).toBe(12 + 4 + 8);
    expect(s.count({ trainableOnly: true })).toBe(8);
    expect(s.trainableVariables().map((v) => v.shape)).toEqual([[2, 4]]);
    expect(() => s.add('head.weight', tf.zeros([1]), { trainable: true })).toThrow('parameter head.weight is registered twice');
    s.dispose();
  });

  it('loads by name and reports nothing missing when the dict matches', async () => {
    const s = makeStore();
    const dict = new Map([
      ['encoder.weight', host([4, 3], 1)],
      ['encoder.bias', host([4], 2)],
      ['head.weight', host([2, 4], 3)],
    ]);
    const report = await s.loadStateDict(dict);
    expect(report.loaded.sort()).toEqual(['encoder.bias', 'encoder.weight', 'head.weight']);
    expect(Array.from(await s.get('encoder.bias').data())).toEqual([2, 2, 2, 2]);
    s.dispose();
  });

  it('strict load lists every missing, unexpected and mis-shaped key at once and changes nothing', async () => {
    const s = makeStore();
    const dict = new Map([
      ['encoder.weight', host([3, 4], 1)],
      ['head.weight', host([2, 4], 3)],
      ['extra.thing', host([5], 0)],
    ]);
    const err = await s.loadStateDict(dict, { source: 'ckpt.safetensors' }).catch((e) => e);
    expect(err).toBeInstanceOf(StateDictError);
    expect(err.problems).toEqual([
      { kind: 'shape-mismatch', key: 'encoder.weight', expected: [4, 3], found: [3, 4] },
      { kind: 'missing', key: 'encoder.bias', expected: [4] },
      { kind: 'unexpected', key: 'extra.thing', found: [5] },
    ]);
    expect(err.message).toContain('ckpt.safetensors: state dict does not match the model (3 problems)');
    expect(err.message).toContain('tensor encoder.weight has shape [3, 4], expected [4, 3]');
    expect(Array.from(await s.get('head.weight').data())).toEqual(new Array(8).fill(0));
    // Non-strict: loads what matches and reports the rest.
    const report = await s.loadStateDict(dict, { strict: false });
    expect(report.loaded).toEqual(['head.weight']);
    expect(report.missing).toEqual(['encoder.bias']);
    expect(report.unexpected).toEqual(['extra.thing']);
    expect(report.mismatched).toEqual([{ key: 'encoder.weight', expected: [4, 3], found: [3, 4] }]);
    s.dispose();
  });

  it('applies rename rules given as data before matching', async () => {
    const s = makeStore();
    const rules: RenameRule[] = [
      { pattern: '^model\\.enc\\.', replacement: 'encoder.' },
      { pattern: '^model\\.', replacement: '' },
    ];
    const dict = new Map([
      ['model.enc.weight', host([4, 3], 1)],
      ['model.enc.bias', host([4], 2)],
      ['model.head.weight', host([2, 4], 3)],
    ]);
    const report = await s.loadStateDict(dict, { rename: rules });
    expect(report.loaded.length).toBe(3);
    expect(() =>
      renameKeys(
        new Map([
          ['a.x', 1],
          ['b.x', 2],
        ]),
        [{ pattern: '^[ab]\\.', replacement: '' }],
      ),
    ).toThrow('keys a.x and b.x are both renamed to x');
    s.dispose();
  });

  it('saves the trainable set with the config in the metadata and loads it back into a fresh store', async () => {
    const s = makeStore();
    s.get('head.weight').assign(tf.reshape(tf.range(0, 8), [2, 4]));
    const bytes = await s.saveTrainable({ groups: [16, 8, 4, 2] });
    const reader = await SafetensorsReader.fromBytes(bytes, 'trainable.safetensors');
    expect(reader.tensorNames()).toEqual(['head.weight']);
    expect(JSON.parse(reader.metadata['config']!)).toEqual({ groups: [16, 8, 4, 2] });
    const fresh = makeStore();
    await fresh.loadStateDict(reader, { only: (p) => p.trainable });
    expect(Array.from(await fresh.get('head.weight').data())).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    s.dispose();
    fresh.dispose();
  });

  it('does not leak tensors while loading', async () => {
    const s = makeStore();
    const dict = new Map([
      ['encoder.weight', host([4, 3], 1)],
      ['encoder.bias', host([4], 2)],
      ['head.weight', host([2, 4], 3)],
    ]);
    await s.loadStateDict(dict);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await s.loadStateDict(dict);
    expect(tf.memory().numTensors).toBe(before);
    s.dispose();
  });
});

describe('joinName', () => {
  it('joins a prefix and a name with one dot; an empty prefix gives the name', () => {
    expect(joinName('hgm', 'group_tokens')).toBe('hgm.group_tokens');
    expect(joinName('refiner.', 'gate.weight')).toBe('refiner.gate.weight');
    expect(joinName('', 'norm.bias')).toBe('norm.bias');
  });
});
