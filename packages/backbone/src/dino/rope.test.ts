import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it as vitestIt } from 'vitest';
import { describeBackends, expectClose } from '@hgm/tensor/testing';
import { Rng } from '@hgm/tensor';
import { applyRope, applyRopeStacked, ropeCoordinates, ropePeriods, ropeTables, rotateHalf } from './rope';

describe('rope coordinates and periods', () => {
  vitestIt('patch centres in [-1, 1], row-major, per axis ("separate")', () => {
    const c = ropeCoordinates(2, 4, 'separate');
    expect([...c.slice(0, 8)]).toEqual([-0.5, -0.75, -0.5, -0.25, -0.5, 0.25, -0.5, 0.75]);
    expect([...c.slice(8)]).toEqual([0.5, -0.75, 0.5, -0.25, 0.5, 0.25, 0.5, 0.75]);
  });

  vitestIt('"max" divides both axes by the longer side', () => {
    const c = ropeCoordinates(2, 4, 'max');
    expect(c[0]).toBeCloseTo(2 * (0.5 / 4) - 1, 7);
    expect(c[2 * 4]).toBeCloseTo(2 * (1.5 / 4) - 1, 7);
  });

  vitestIt('periods: base ** (2 i / (D / 2)) or the min/max geometric range', () => {
    expect([...ropePeriods(16, { base: 100 })]).toEqual([1, Math.fround(Math.sqrt(10)), 10, Math.fround(10 * Math.sqrt(10))]);
    const p = ropePeriods(16, { minPeriod: 0.5, maxPeriod: 32 });
    expect(p[0]).toBeCloseTo(0.5, 6);
    expect(p[3]).toBeCloseTo(32, 4);
    expect(() => ropePeriods(6, { base: 100 })).toThrow(/multiple of 4/);
  });
});

describeBackends(
  'rope application',
  ({ it }) => {
    it('tables: [HW, D], all row angles then all column angles, tiled twice', async () => {
      const periods = tf.tensor1d([1, 4]);
      const { sin, cos } = ropeTables(periods, 2, 3, 'separate');
      expect(sin.shape).toEqual([6, 8]);
      const coords = ropeCoordinates(2, 3, 'separate');
      const expected = new Float64Array(6 * 8);
      for (let t = 0; t < 6; t++) {
        const angles = [coords[2 * t]! / 1, coords[2 * t]! / 4, coords[2 * t + 1]! / 1, coords[2 * t + 1]! / 4].map((a) => 2 * Math.PI * a);
        for (let j = 0; j < 8; j++) expected[t * 8 + j] = Math.cos(angles[j % 4]!);
      }
      await expectClose(cos, expected, { atol: 1e-6 });
      tf.dispose([periods, sin, cos]);
    });

    it('rotates patch tokens only, keeps the prefix, preserves the norm of each (i, i + D/2) pair', async () => {
      const periods = tf.tensor1d([1, 3]);
      const tables = ropeTables(periods, 2, 2, 'separate');
      const x = tf.randomNormal([1, 2, 3 + 4, 8], 0, 1, 'float32', 7) as tf.Tensor4D;
      const y = applyRope(x, tables);
      await expectClose(tf.slice(y, [0, 0, 0, 0], [1, 2, 3, 8]), tf.slice(x, [0, 0, 0, 0], [1, 2, 3, 8]), { atol: 0 });
      const pairNorm = (t: tf.Tensor) =>
        tf.tidy(() => {
          const [a, b] = tf.split(t, 2, 3);
          return tf.add(tf.square(a!), tf.square(b!));
        });
      await expectClose(pairNorm(y), pairNorm(x), { atol: 1e-5, rtol: 1e-5 });
      const rh = rotateHalf(tf.tensor1d([1, 2, 3, 4]));
      expect([...(await rh.data())]).toEqual([-3, -4, 1, 2]);
      expect(() => applyRope(tf.zeros([1, 1, 3, 8]) as tf.Tensor4D, tables)).toThrow(/3 tokens but the RoPE tables cover 4 patches/);
      tf.dispose([periods, tables.sin, tables.cos, x, y, rh]);
    });

    it('applyRopeStacked rotates q and k exactly as applyRope and leaves v and the prefix tokens unchanged', async () => {
      const rng = new Rng(5);
      const periods = tf.tensor1d(ropePeriods(8, { base: 100 }));
      const tables = ropeTables(periods, 2, 3, 'separate');
      for (const prefix of [0, 2]) {
        const qkv = rng.tensorNormal([3, 2, 2, prefix + 6, 8]);
        const [q, k, v] = tf.unstack(qkv) as tf.Tensor4D[];
        const got = applyRopeStacked(qkv, tables);
        const [gq, gk, gv] = tf.unstack(got);
        expect(got.shape).toEqual(qkv.shape);
        const [wq, wk] = [applyRope(q!, tables), applyRope(k!, tables)];
        expect(Array.from(await gq!.data())).toEqual(Array.from(await wq.data()));
        expect(Array.from(await gk!.data())).toEqual(Array.from(await wk.data()));
        expect(Array.from(await gv!.data())).toEqual(Array.from(await v!.data()));
        tf.dispose([qkv, q!, k!, v!, got, gq!, gk!, gv!, wq, wk]);
      }
      const bad = tf.zeros([3, 1, 1, 5, 8]);
      expect(() => applyRopeStacked(bad, tables)).toThrow(/5 tokens but the RoPE tables cover 6 patches/);
      tf.dispose([periods, tables.sin, tables.cos, bad]);
    });
  },
  { backends: ['cpu', 'wasm'] },
);
