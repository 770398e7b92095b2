import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import fc from 'fast-check';
import { join } from 'node:path';
import { Rng, type HostTensor } from '@hgm/tensor';
import { describeBackends, expectClose, expectNoLeak, readFixture, repoFixturesDir } from '@hgm/tensor/testing';
import { bipartiteSoftMatching, mergeSource, mergeWeightedAverage } from './bipartite-soft-matching';

const host = (h: HostTensor): tf.Tensor => tf.tensor(h.data, h.shape, 'float32');

describeBackends(
  'bipartiteSoftMatching',
  ({ it }) => {
    it('matches ToMe (tome-merge fixture: r5, r3_cls, keys_r5, chain_r3)', async () => {
      const fx = await readFixture(join(repoFixturesDir(), 'vit/tome-merge'));
      const inputs = await fx.tensors('inputs.safetensors');
      const outputs = await fx.tensors('outputs.safetensors');
      const cases = [
        { name: 'r5', x: inputs.get('x')!, metric: inputs.get('x')!, r: 5, classToken: false },
        { name: 'r3_cls', x: inputs.get('x')!, metric: inputs.get('x')!, r: 3, classToken: true },
        { name: 'keys_r5', x: inputs.get('x')!, metric: inputs.get('metric')!, r: 5, classToken: false },
        { name: 'chain_r3', x: outputs.get('r5.x')!, metric: outputs.get('r5.x')!, r: 3, classToken: false, size: outputs.get('r5.size')! },
      ];
      for (const c of cases) {
        const x = host(c.x);
        const metric = host(c.metric);
        const size = c.size ? host(c.size) : undefined;
        const m = bipartiteSoftMatching(metric, c.r, { classToken: c.classToken });
        const merged = mergeWeightedAverage(m, x, size);
        const source = mergeSource(m);
        const unmerged = m.unmerge(merged.x);
        const tol = { atol: 1e-4, rtol: 1e-4 };
        await expectClose(merged.x, outputs.get(`${c.name}.x`)!, { ...tol, name: `${c.name}.x` });
        await expectClose(merged.size, outputs.get(`${c.name}.size`)!, { ...tol, name: `${c.name}.size` });
        await expectClose(source, outputs.get(`${c.name}.source`)!, { ...tol, name: `${c.name}.source` });
        await expectClose(unmerged, outputs.get(`${c.name}.unmerge`)!, { ...tol, name: `${c.name}.unmerge` });
        expect([...(await m.unmergedIndices.data())]).toEqual([...outputs.get(`${c.name}.unm_idx`)!.data]);
        expect([...(await m.srcIndices.data())]).toEqual([...outputs.get(`${c.name}.src_idx`)!.data]);
        expect([...(await m.dstIndices.data())]).toEqual([...outputs.get(`${c.name}.dst_idx`)!.data]);
        m.dispose();
        tf.dispose([x, metric, ...(size ? [size] : []), merged.x, merged.size, source, unmerged]);
      }
    });

    it('keeps the token count arithmetic, the total size and the size-weighted mass (property)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 3 }),
          fc.integer({ min: 1, max: 12 }),
          fc.integer({ min: 0, max: 10 }),
          fc.integer({ min: 0, max: 1_000_000 }),
          fc.boolean(),
          async (b, t, r, seed, classToken) => {
            const rng = new Rng(seed);
            const x = rng.tensorNormal([b, t, 3]);
            const size = rng.tensorUniform([b, t, 1], 0.5, 3);
            const m = bipartiteSoftMatching(x, r, { classToken });
            const expectedR = Math.max(0, Math.min(r, Math.floor((t - (classToken ? 1 : 0)) / 2)));
            expect(m.r).toBe(expectedR);
            expect(m.tokensOut).toBe(t - expectedR);
            const merged = mergeWeightedAverage(m, x, size);
            expect(merged.x.shape).toEqual([b, t - expectedR, 3]);
            // Total size and size-weighted mass are conserved.
            await expectClose(tf.sum(merged.size, 1), tf.sum(size, 1), { atol: 1e-4, rtol: 1e-5, name: 'total size' });
            await expectClose(tf.sum(tf.mul(merged.x, merged.size), 1), tf.sum(tf.mul(x, size), 1), { atol: 1e-4, rtol: 1e-4, name: 'mass' });
            // Every input token belongs to exactly one output token.
            const members = (await m.membership.array()) as number[][][];
            for (const rows of members) {
              expect(rows.length).toBe(t - expectedR);
              for (let ti = 0; ti < t; ti++) expect(rows.reduce((acc, row) => acc + row[ti]!, 0)).toBe(1);
              if (classToken) expect(rows[0]![0]).toBe(1);
            }
            // Unmerge gives every member its group's value.
            const un = m.unmerge(merged.x);
            const unData = (await un.array()) as number[][][];
            const mData = (await merged.x.array()) as number[][][];
            members.forEach((rows, bi) => rows.forEach((row, o) => row.forEach((v, ti) => v === 1 && expect(unData[bi]![ti]).toEqual(mData[bi]![o]))));
            m.dispose();
            tf.dispose([x, size, merged.x, merged.size, un]);
          },
        ),
        { numRuns: 30, seed: 7 },
      );
    });

    it('merge modes: mean averages, amax takes the maximum, r = 0 is the identity', async () => {
      const x = tf.tensor3d([
        [
          [1, 0],
          [3, 1],
          [5, 2],
          [2, 9],
        ],
      ]);
      // Tokens 0 and 2 (even) are parallel to 1 and 3 (odd) by construction below.
      const metric = tf.tensor3d([
        [
          [1, 0],
          [1, 0.01],
          [0, 1],
          [0.01, 1],
        ],
      ]);
      const m = bipartiteSoftMatching(metric, 2);
      expect(await m.membership.array()).toEqual([
        [
          [1, 1, 0, 0],
          [0, 0, 1, 1],
        ],
      ]);
      const mean = m.merge(x, 'mean');
      await expectClose(
        mean,
        [
          [
            [2, 0.5],
            [3.5, 5.5],
          ],
        ].flat(2),
        { atol: 1e-6 },
      );
      const amax = m.merge(x, 'amax');
      await expectClose(amax, [3, 1, 5, 9], { atol: 0 });
      const id = bipartiteSoftMatching(metric, 0);
      const same = id.merge(x, 'sum');
      await expectClose(same, x, { atol: 0 });
      m.dispose();
      id.dispose();
      tf.dispose([x, metric, mean, amax, same]);
    });

    it('rejects bad inputs with clear messages', () => {
      const x = tf.zeros([1, 4, 2]);
      expect(() => bipartiteSoftMatching(tf.zeros([4, 2]), 1)).toThrow(/expected shape \[B, T, C\], found \[4, 2\]/);
      expect(() => bipartiteSoftMatching(x, -1)).toThrow(/r: expected a non-negative integer, found -1/);
      const m = bipartiteSoftMatching(tf.randomNormal([1, 4, 2]), 1);
      expect(() => m.merge(tf.zeros([1, 5, 2]), 'sum')).toThrow(/merge input: expected shape \[1, 4, C\], found \[1, 5, 2\]/);
      m.dispose();
      x.dispose();
    });

    it('does not leak tensors through merge, unmerge and gradients', async () => {
      const rng = new Rng(1);
      const x = rng.tensorNormal([2, 9, 4]);
      await expectNoLeak(() => {
        const m = bipartiteSoftMatching(x, 3);
        const g = tf.grad((v: tf.Tensor) => tf.sum(m.unmerge(mergeWeightedAverage(m, v).x)))(x);
        const s = mergeSource(m);
        m.dispose();
        tf.dispose([g, s]);
      });
      x.dispose();
    });
  },
  { backends: ['cpu', 'wasm'] },
);
