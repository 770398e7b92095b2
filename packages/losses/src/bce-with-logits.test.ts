import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { expect } from 'vitest';
import { describeBackends, expectClose } from '@hgm/tensor/testing';
import { bceWithLogits } from './bce-with-logits';
import { sigmoidFocalLoss } from './sigmoid-focal-loss';
import { ensureGradients, scalarValue } from './test-support';

ensureGradients();

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

const logitsAndTargets = fc.integer({ min: 1, max: 16 }).chain((n) =>
  fc.record({
    logits: fc.array(fc.double({ min: -15, max: 15, noNaN: true }), { minLength: n, maxLength: n }),
    targets: fc.array(fc.constantFrom(0, 1, 0.3), { minLength: n, maxLength: n }),
  }),
);

describeBackends(
  'bceWithLogits and sigmoidFocalLoss',
  ({ it }) => {
    it('BCE is -[t log s + (1 - t) log(1 - s)] with gradient (sigmoid(x) - t) / N', async () => {
      await fc.assert(
        fc.asyncProperty(logitsAndTargets, async ({ logits, targets }) => {
          const n = logits.length;
          const expected =
            logits.reduce((a, x, i) => {
              const t = targets[i]!;
              return a + (Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x))));
            }, 0) / n;
          const x = tf.tensor1d(logits);
          const t = tf.tensor1d(targets);
          expect(await scalarValue(bceWithLogits(x, t))).toBeCloseTo(expected, 4);
          const g = tf.grad((v: tf.Tensor) => bceWithLogits(v, t))(x);
          await expectClose(
            g,
            logits.map((v, i) => (sigmoid(v) - targets[i]!) / n),
            { atol: 1e-6, rtol: 1e-4 },
          );
          tf.dispose([x, t, g]);
        }),
        { numRuns: 25 },
      );
    });

    it('BCE is symmetric: bce(x, t) = bce(-x, 1 - t), and finite for saturated logits', async () => {
      await fc.assert(
        fc.asyncProperty(logitsAndTargets, async ({ logits, targets }) => {
          const x = tf.tensor1d(logits);
          const t = tf.tensor1d(targets);
          const nx = tf.neg(x);
          const nt = tf.sub(1, t);
          expect(await scalarValue(bceWithLogits(nx, nt))).toBeCloseTo(await scalarValue(bceWithLogits(x, t)), 5);
          tf.dispose([x, t, nx, nt]);
        }),
        { numRuns: 20 },
      );
      const x = tf.tensor1d([100, -100, 100, -100]);
      const t = tf.tensor1d([0, 1, 1, 0]);
      await expectClose(bceWithLogits(x, t, { reduction: 'none' }), [100, 100, 0, 0], { atol: 1e-5 });
      tf.dispose([x, t]);
    });

    it('sigmoid focal loss with gamma 0 and no alpha is BCE, and never exceeds max(alpha, 1 - alpha) BCE', async () => {
      await fc.assert(
        fc.asyncProperty(logitsAndTargets, fc.double({ min: 0, max: 1, noNaN: true }), async ({ logits, targets }, alpha) => {
          const x = tf.tensor1d(logits);
          const t = tf.tensor1d(targets.map((v) => (v >= 0.5 ? 1 : 0)));
          const bce = await scalarValue(bceWithLogits(x, t, { reduction: 'sum' }));
          expect(await scalarValue(sigmoidFocalLoss(x, t, { alpha: -1, gamma: 0, reduction: 'sum' }))).toBeCloseTo(bce, 4);
          const focal = await scalarValue(sigmoidFocalLoss(x, t, { alpha, gamma: 2, reduction: 'sum' }));
          expect(focal).toBeGreaterThanOrEqual(0);
          expect(focal).toBeLessThanOrEqual(Math.max(alpha, 1 - alpha) * bce + 1e-5);
          tf.dispose([x, t]);
        }),
        { numRuns: 25 },
      );
    });

    it('sigmoid focal loss with alpha 0.5 is symmetric under x -> -x, t -> 1 - t, and near zero when confident and right', async () => {
      await fc.assert(
        fc.asyncProperty(logitsAndTargets, async ({ logits, targets }) => {
          const x = tf.tensor1d(logits);
          const t = tf.tensor1d(targets);
          const nx = tf.neg(x);
          const nt = tf.sub(1, t);
          const a = await scalarValue(sigmoidFocalLoss(x, t, { alpha: 0.5 }));
          expect(await scalarValue(sigmoidFocalLoss(nx, nt, { alpha: 0.5 }))).toBeCloseTo(a, 5);
          tf.dispose([x, t, nx, nt]);
        }),
        { numRuns: 20 },
      );
      const x = tf.tensor1d([20, -20]);
      const t = tf.tensor1d([1, 0]);
      expect(await scalarValue(sigmoidFocalLoss(x, t))).toBeLessThan(1e-12);
      tf.dispose([x, t]);
    });

    it('rejects mismatched targets and bad configs', () => {
      expect(() => bceWithLogits(tf.zeros([3]), tf.zeros([4]))).toThrow(/bceWithLogits: targets has shape \[4\], expected the shape of logits \[3\]/);
      expect(() => sigmoidFocalLoss(tf.zeros([3]), tf.zeros([3]), { alpha: 2 })).toThrow(/alpha must be <= 1, found 2/);
    });
  },
  { backends: ['cpu', 'wasm'] },
);
