import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { Rng } from '@hgm/tensor';
import { describeBackends, expectClose, expectNoLeak } from '@hgm/tensor/testing';
import { mergeGroupTokens } from './merge-groups';

describeBackends(
  'mergeGroupTokens',
  ({ it }) => {
    it('reaches any smaller count, in several ToMe rounds when needed, keeping sizes and mass', async () => {
      const rng = new Rng(4);
      const x = rng.tensorNormal([2, 13, 5]);
      const sizes = tf.ones([2, 13, 1]);
      for (const [target, rounds] of [
        [13, 0],
        [7, 1],
        [6, 2],
        [2, 3],
        [1, 4],
      ] as const) {
        const out = mergeGroupTokens(x, sizes, target);
        expect(out.rounds).toBe(rounds);
        expect(out.groupTokens.shape).toEqual([2, target, 5]);
        expect(out.membership.shape).toEqual([2, target, 13]);
        await expectClose(tf.sum(out.membership, 1), new Array(26).fill(1), { atol: 0, name: 'each token merged once' });
        await expectClose(tf.squeeze(out.sizes, [2]), tf.sum(out.membership, -1), { atol: 1e-5, name: 'sizes = members' });
        // Size-weighted mean of the members, whatever the rounds.
        await expectClose(out.groupTokens, tf.div(tf.matMul(out.membership, x), out.sizes), { atol: 1e-5, name: 'weighted mean' });
        tf.dispose([out.groupTokens, out.sizes, out.membership]);
      }
      expect(() => mergeGroupTokens(x, sizes, 14)).toThrow(/targetCount: expected an integer in \[1, 13\], found 14/);
      await expectNoLeak(() => {
        const out = mergeGroupTokens(x, sizes, 3);
        tf.dispose([out.groupTokens, out.sizes, out.membership]);
      });
      tf.dispose([x, sizes]);
    });
  },
  { backends: ['cpu', 'wasm'] },
);
