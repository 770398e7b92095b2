import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { expect } from 'vitest';
import { describeBackends, expectClose } from '@hgm/tensor/testing';
import { crossEntropy } from './cross-entropy';
import { ensureGradients, scalarValue } from './test-support';

ensureGradients();

const logitsAndLabels = fc.tuple(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 2, max: 5 })).chain(([n, c]) =>
  fc.record({
    n: fc.constant(n),
    c: fc.constant(c),
    logits: fc.array(fc.double({ min: -20, max: 20, noNaN: true }), { minLength: n * c, maxLength: n * c }),
    labels: fc.array(fc.integer({ min: 0, max: c - 1 }), { minLength: n, maxLength: n }),
  }),
);

function softmaxRow(row: number[]): number[] {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

describeBackends(
  'crossEntropy',
  ({ it }) => {
    it('is -log softmax of the label, averaged, with gradient (softmax - onehot) / N', async () => {
      await fc.assert(
        fc.asyncProperty(logitsAndLabels, async ({ n, c, logits, labels }) => {
          const rows = Array.from({ length: n }, (_, i) => logits.slice(i * c, (i + 1) * c));
          const probs = rows.map(softmaxRow);
          const expected = -labels.reduce((a, y, i) => a + Math.log(probs[i]![y]!), 0) / n;
          const x = tf.tensor2d(logits, [n, c]);
          const y = tf.tensor1d(labels, 'int32');
          expect(await scalarValue(crossEntropy(x, y))).toBeCloseTo(expected, 4);
          const g = tf.grad((v: tf.Tensor) => crossEntropy(v, y))(x);
          await expectClose(
            g,
            probs.flatMap((p, i) => p.map((v, j) => (v - (j === labels[i] ? 1 : 0)) / n)),
            { atol: 1e-6, rtol: 1e-4 },
          );
          tf.dispose([x, y, g]);
        }),
        { numRuns: 25 },
      );
    });

    it('does not change when a constant is added to a row of logits', async () => {
      await fc.assert(
        fc.asyncProperty(logitsAndLabels, fc.double({ min: -50, max: 50, noNaN: true }), async ({ n, c, logits, labels }, shift) => {
          const x = tf.tensor2d(logits, [n, c]);
          const shifted = tf.add(x, shift);
          const y = tf.tensor1d(labels, 'int32');
          const a = await scalarValue(crossEntropy(x, y));
          expect(await scalarValue(crossEntropy(shifted, y))).toBeCloseTo(a, 3);
          tf.dispose([x, shifted, y]);
        }),
        { numRuns: 20 },
      );
    });

    it('is near zero for confident correct logits and reduces by sum or none', async () => {
      const x = tf.tensor2d([
        [30, -30],
        [-30, 30],
      ]);
      const y = tf.tensor1d([0, 1], 'int32');
      expect(await scalarValue(crossEntropy(x, y))).toBeLessThan(1e-6);
      const none = crossEntropy(x, y, { reduction: 'none' });
      expect(none.shape).toEqual([2]);
      tf.dispose([x, y, none]);
    });

    it('rejects mismatched labels', () => {
      expect(() => crossEntropy(tf.zeros([3, 2]), tf.zeros([2], 'int32'))).toThrow(/labels has 2 entries, expected one per row of logits \(3\)/);
      expect(() => crossEntropy(tf.zeros([3]), tf.zeros([3], 'int32'))).toThrow(/logits must have rank 2 \(\[N, C\]\), found shape \[3\]/);
    });
  },
  { backends: ['cpu', 'wasm'] },
);
