import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { expect } from 'vitest';
import { describeBackends } from '@hgm/tensor/testing';
import { focalLoss, resolveFocalLossConfig } from './focal-loss';
import { scalarValue } from './test-support';

/** AnomalyCLIP's FocalLoss in plain float64 JS: probs [N, C] row-major, targets [N]. */
function referenceFocal(probs: number[], targets: number[], numClasses: number, gamma: number, smooth: number, weights?: number[]): number {
  let total = 0;
  targets.forEach((t, i) => {
    let pt = smooth;
    for (let c = 0; c < numClasses; c++) {
      const y = Math.min(Math.max(c === t ? 1 : 0, smooth / (numClasses - 1)), 1 - smooth);
      pt += y * probs[i * numClasses + c]!;
    }
    total += -(weights?.[t] ?? 1) * (1 - pt) ** gamma * Math.log(pt);
  });
  return total / targets.length;
}

/** n rows of C probabilities (each row sums to 1) and n class indices. */
const probsAndTargets = (numClasses: number) =>
  fc.integer({ min: 1, max: 12 }).chain((n) =>
    fc
      .record({
        raw: fc.array(fc.double({ min: 0.01, max: 1, noNaN: true }), { minLength: n * numClasses, maxLength: n * numClasses }),
        targets: fc.array(fc.integer({ min: 0, max: numClasses - 1 }), { minLength: n, maxLength: n }),
      })
      .map(({ raw, targets }) => {
        const probs = raw.map((v, i) => {
          const row = Math.floor(i / numClasses) * numClasses;
          return v / raw.slice(row, row + numClasses).reduce((a, b) => a + b, 0);
        });
        return { n, probs, targets };
      }),
  );

describeBackends(
  'focalLoss',
  ({ it }) => {
    it('matches the AnomalyCLIP formula for any gamma, smooth, class count and class weights', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 2, max: 4 }).chain((c) => fc.tuple(fc.constant(c), probsAndTargets(c))),
          fc.double({ min: 0, max: 3, noNaN: true }),
          fc.constantFrom(0, 1e-5, 1e-3),
          fc.boolean(),
          async ([numClasses, { n, probs, targets }], gamma, smooth, weighted) => {
            const weights = weighted ? Array.from({ length: numClasses }, (_, i) => 0.5 + i) : undefined;
            const p = tf.tensor2d(probs, [n, numClasses]);
            const t = tf.tensor1d(targets, 'float32');
            const value = await scalarValue(focalLoss(p, t, { gamma, smooth, classWeights: weights ?? null }));
            tf.dispose([p, t]);
            const expected = referenceFocal(probs, targets, numClasses, gamma, smooth, weights);
            expect(value).toBeCloseTo(expected, 4);
          },
        ),
        { numRuns: 30 },
      );
    });

    it('is zero for perfect predictions and positive otherwise', async () => {
      await fc.assert(
        fc.asyncProperty(probsAndTargets(2), async ({ n, probs, targets }) => {
          const t = tf.tensor1d(targets, 'float32');
          const perfect = tf.oneHot(tf.tensor1d(targets, 'int32'), 2);
          const perfectProbs = tf.cast(perfect, 'float32');
          expect(Math.abs(await scalarValue(focalLoss(perfectProbs, t)))).toBeLessThan(1e-9);
          const p = tf.tensor2d(probs, [n, 2]);
          expect(await scalarValue(focalLoss(p, t))).toBeGreaterThan(0);
          tf.dispose([t, perfect, perfectProbs, p]);
        }),
        { numRuns: 20 },
      );
    });

    it('decreases as the probability of the true class rises', async () => {
      const values: number[] = [];
      for (const q of [0.05, 0.2, 0.5, 0.8, 0.95, 0.999]) {
        const p = tf.tensor2d([[1 - q, q]]);
        const t = tf.tensor1d([1]);
        values.push(await scalarValue(focalLoss(p, t)));
        tf.dispose([p, t]);
      }
      for (let i = 1; i < values.length; i++) expect(values[i]!).toBeLessThan(values[i - 1]!);
    });

    it('is symmetric under swapping the two classes and the targets', async () => {
      await fc.assert(
        fc.asyncProperty(probsAndTargets(2), async ({ n, probs, targets }) => {
          const p = tf.tensor2d(probs, [n, 2]);
          const swapped = tf.reverse(p, -1);
          const t = tf.tensor1d(targets, 'float32');
          const flipped = tf.sub(1, t);
          const a = await scalarValue(focalLoss(p, t));
          const b = await scalarValue(focalLoss(swapped, flipped));
          expect(b).toBeCloseTo(a, 6);
          tf.dispose([p, swapped, t, flipped]);
        }),
        { numRuns: 20 },
      );
    });

    it('takes any leading shape and reduces by mean, sum or none', async () => {
      const p = tf.softmax(tf.tensor4d([0.3, -1, 2, 0.1, 0, 0, -3, 1], [1, 2, 2, 2]));
      const t = tf.tensor3d([1, 0, 0, 1], [1, 2, 2]);
      const none = focalLoss(p, t, { reduction: 'none' });
      expect(none.shape).toEqual([1, 2, 2]);
      const perPosition = Array.from(await none.data());
      const mean = await scalarValue(focalLoss(p, t));
      const sum = await scalarValue(focalLoss(p, t, { reduction: 'sum' }));
      expect(mean).toBeCloseTo(perPosition.reduce((a, b) => a + b) / 4, 6);
      expect(sum).toBeCloseTo(mean * 4, 5);
      tf.dispose([p, t, none]);
    });

    it('rejects bad inputs and configs with a clear message', () => {
      const p = tf.tensor2d([[0.5, 0.5]]);
      expect(() => focalLoss(p, tf.tensor1d([0, 1]))).toThrow(/focalLoss: target has shape \[2\], expected the shape of probs without its class axis \[1\]/);
      expect(() => focalLoss(tf.tensor2d([[1], [1]]), tf.tensor1d([0, 0]))).toThrow(/at least 2 classes/);
      expect(() => focalLoss(p, tf.tensor1d([0]), { classWeights: [1, 2, 3] })).toThrow(/classWeights has 3 entries, expected one per class \(2\)/);
      expect(() => resolveFocalLossConfig({ gamma: -1 })).toThrow(/gamma must be >= 0, found -1/);
      expect(() => resolveFocalLossConfig({ gama: 2 } as never)).toThrow(/unknown option "gama"/);
      expect(() => resolveFocalLossConfig({ reduction: 'avg' as never })).toThrow(/reduction must be one of mean, sum, none/);
      p.dispose();
    });
  },
  { backends: ['cpu', 'wasm'] },
);
