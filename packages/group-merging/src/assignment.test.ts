import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import fc from 'fast-check';
import { Rng } from '@hgm/tensor';
import { describeBackends, expectClose, expectNoLeak } from '@hgm/tensor/testing';
import { assignOverLastAxis, gumbelNoiseFor, straightThroughOneHot } from './assignment';

describeBackends(
  'assignment',
  ({ it }) => {
    it('hard assignment is one-hot on the soft argmax and sums to one', async () => {
      const logits = tf.tensor2d([
        [0.1, 2, -1],
        [3, 0, 0.5],
        [0, 0, 1e-3],
      ]);
      const { assignment, soft } = assignOverLastAxis(logits, { hard: true, tau: 1 });
      expect(await assignment.array()).toEqual([
        [0, 1, 0],
        [1, 0, 0],
        [0, 0, 1],
      ]);
      await expectClose(tf.sum(soft, -1), [1, 1, 1], { atol: 1e-6 });
      await expectClose(soft, tf.softmax(logits), { atol: 1e-7 });
      tf.dispose([logits, assignment, soft]);
    });

    it('straight-through gradient equals the gradient of the soft assignment', async () => {
      const rng = new Rng(3);
      const logits = rng.tensorNormal([4, 5]);
      const w = rng.tensorNormal([4, 5]);
      const gHard = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(straightThroughOneHot(tf.softmax(x)), w)))(logits);
      const gSoft = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.softmax(x), w)))(logits);
      await expectClose(gHard, gSoft, { atol: 1e-6, name: 'straight-through gradient' });
      tf.dispose([logits, w, gHard, gSoft]);
    });

    it('soft and hard assignments sum to one over groups for any logits, noise and tau (property)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 5 }),
          fc.integer({ min: 1, max: 6 }),
          fc.integer({ min: 0, max: 1_000_000 }),
          fc.double({ min: 0.1, max: 5, noNaN: true }),
          fc.boolean(),
          async (m, k, seed, tau, hard) => {
            const rng = new Rng(seed);
            const logits = rng.tensorNormal([m, k], 0, 3);
            const noise = rng.tensorGumbel([m, k]);
            const { assignment, soft } = assignOverLastAxis(logits, { hard, tau, gumbelNoise: noise });
            const sums = tf.sum(assignment, -1);
            await expectClose(sums, new Array(m).fill(1), { atol: 1e-5 });
            const a = (await assignment.data()) as Float32Array;
            if (hard) expect([...a].every((v) => v === 0 || v === 1)).toBe(true);
            tf.dispose([logits, noise, assignment, soft, sums]);
          },
        ),
        { numRuns: 25, seed: 42 },
      );
    });

    it('Gumbel noise needs an rng and is reproducible from its seed', async () => {
      expect(() => gumbelNoiseFor([2, 3], true, undefined, 'test block')).toThrow(/test block: training with Gumbel noise needs an Rng/);
      expect(gumbelNoiseFor([2, 3], false, undefined, 'x')).toBeUndefined();
      const a = gumbelNoiseFor([2, 3], true, new Rng(9), 'x')!;
      const b = gumbelNoiseFor([2, 3], true, new Rng(9), 'x')!;
      await expectClose(a, b, { atol: 0 });
      tf.dispose([a, b]);
    });

    it('does not leak tensors', async () => {
      const logits = tf.tensor2d([[0.1, 2, -1]]);
      await expectNoLeak(() => {
        const g = tf.grad((x: tf.Tensor) => tf.sum(assignOverLastAxis(x, { hard: true, tau: 1 }).assignment))(logits);
        g.dispose();
        const r = assignOverLastAxis(logits, { hard: false, tau: 2 });
        tf.dispose([r.assignment, r.soft]);
      });
      logits.dispose();
    });
  },
  { backends: ['cpu', 'wasm'] },
);
