import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { compareClose, expectClose, expectNoLeak, describeBackends, readFixture, findFixtures, repoFixturesDir, useBackend } from './testing';

describe('compareClose / expectClose', () => {
  it('reports the worst element and both errors', async () => {
    const r = compareClose([1, 2, 3], [1, 2.1, 3], { atol: 1e-3, rtol: 0 });
    expect(r.ok).toBe(false);
    expect(r.worstIndex).toBe(1);
    expect(r.maxAbsError).toBeCloseTo(0.1, 6);
    await expect(
      expectClose(Float32Array.of(1, 2, 3, 4), { dtype: 'float32', shape: [2, 2], data: Float32Array.of(1, 2, 3, 4.5) }, { atol: 1e-4, rtol: 1e-4, name: 'x' }),
    ).rejects.toThrow(/x: not close \(atol 0.0001, rtol 0.0001\); worst element \[1, 1\] is 4, expected 4.5/);
    expect(compareClose([NaN, Infinity], [NaN, Infinity]).ok).toBe(true);
    expect(compareClose([0], [Infinity]).ok).toBe(false);
  });
});

describe('expectNoLeak', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });
  it('passes for tidy code and fails for leaking code', async () => {
    await expectNoLeak(() => tf.tidy(() => tf.add(tf.ones([2]), 1)).dispose());
    const kept: tf.Tensor[] = [];
    await expect(expectNoLeak(() => kept.push(tf.ones([2])), { name: 'leaky' })).rejects.toThrow(
      /leaky leaks tensors: \d+ live before 3 repeated calls, \d+ after/,
    );
    kept.forEach((t) => t.dispose());
  });
});

describe('fixtures', () => {
  it('finds every golden fixture of the repository with its kind', async () => {
    const all = await findFixtures(repoFixturesDir());
    const kinds = new Set(all.map((f) => f.kind));
    for (const k of ['openai-clip', 'anomalyclip', 'dinov2', 'dinov3', 'groupvit-grouping-block', 'tome-merge', 'clip-tokenizer', 'metrics', 'losses']) {
      expect(kinds.has(k)).toBe(true);
    }
    const fx = await readFixture(`${repoFixturesDir()}/metrics/case-0`);
    const inputs = await fx.tensors('inputs.safetensors');
    expect(inputs.get('labels')?.shape).toEqual([7]);
    await expect(readFixture('/nonexistent')).rejects.toThrow('/nonexistent/fixture.json: not a fixture folder');
  });
});

describeBackends(
  'describeBackends itself',
  ({ backend, it: bit }) => {
    bit('runs on the backend it names', async () => {
      expect(tf.getBackend()).toBe(backend);
      const y = tf.tidy(() => tf.sum(tf.mul(tf.range(0, 10), 2)));
      expect((await y.data())[0]).toBe(90);
      y.dispose();
    });
    bit('lists known gaps explicitly', () => {
      expect(backend).not.toBe('wasm');
    });
  },
  { knownGaps: [{ backend: 'wasm', test: 'lists known gaps explicitly', reason: 'demonstrates how a gap is reported' }] },
);
