import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { expect } from 'vitest';
import { describeBackends } from '@hgm/tensor/testing';
import { orthogonalityLoss, resolveOrthogonalityLossConfig } from './orthogonality-loss';
import { ensureGradients, scalarValue } from './test-support';

ensureGradients();

const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i]!, 0);

/** B pairs of D-dimensional vectors with a clear norm. */
const anchorPairs = fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 2, max: 16 })).chain(([batch, dim]) =>
  fc
    .array(
      fc.tuple(
        fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: dim, maxLength: dim }),
        fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: dim, maxLength: dim }),
      ),
      {
        minLength: batch,
        maxLength: batch,
      },
    )
    .filter((pairs) => pairs.every(([a, b]) => dot(a, a) > 0.1 && dot(b, b) > 0.1))
    .map((pairs) => ({ batch, dim, pairs })),
);

describeBackends(
  'orthogonalityLoss',
  ({ it }) => {
    it('is 0 for orthogonal anchors and 1 for parallel or anti-parallel ones, whatever their norms', async () => {
      await fc.assert(
        fc.asyncProperty(anchorPairs, fc.double({ min: 0.1, max: 10, noNaN: true }), fc.boolean(), async ({ batch, dim, pairs }, scale, negate) => {
          // Gram-Schmidt: remove from b its component along a.
          const ortho = pairs.map(([a, b]) => {
            const k = dot(a, b) / dot(a, a);
            return b.map((v, i) => v - k * a[i]!);
          });
          if (ortho.some((b) => dot(b, b) < 1e-3)) return;
          const normal = tf.tensor2d(
            pairs.map(([a]) => a),
            [batch, dim],
          );
          const orthogonal = tf.tensor2d(ortho, [batch, dim]);
          const parallel = tf.mul(normal, negate ? -scale : scale);
          expect(await scalarValue(orthogonalityLoss(normal, orthogonal))).toBeLessThan(1e-5);
          expect(await scalarValue(orthogonalityLoss(normal, parallel))).toBeCloseTo(1, 5);
          tf.dispose([normal, orthogonal, parallel]);
        }),
        { numRuns: 15 },
      );
    });

    it('is the mean squared cosine, symmetric, in [0, 1] and scale invariant', async () => {
      await fc.assert(
        fc.asyncProperty(anchorPairs, fc.double({ min: 0.01, max: 100, noNaN: true }), async ({ batch, dim, pairs }, scale) => {
          const expected = pairs.reduce((s, [a, b]) => s + dot(a, b) ** 2 / (dot(a, a) * dot(b, b)), 0) / batch;
          const a = tf.tensor2d(
            pairs.map((p) => p[0]),
            [batch, dim],
          );
          const b = tf.tensor2d(
            pairs.map((p) => p[1]),
            [batch, dim],
          );
          const scaled = tf.mul(b, scale);
          const value = await scalarValue(orthogonalityLoss(a, b));
          expect(value).toBeCloseTo(expected, 5);
          expect(value).toBeGreaterThanOrEqual(0);
          expect(value).toBeLessThanOrEqual(1 + 1e-6);
          expect(await scalarValue(orthogonalityLoss(b, a))).toBeCloseTo(value, 6);
          expect(await scalarValue(orthogonalityLoss(a, scaled))).toBeCloseTo(value, 5);
          tf.dispose([a, b, scaled]);
        }),
        { numRuns: 15 },
      );
    });

    it('has a finite gradient, zero for a zero anchor', async () => {
      const a = tf.tensor2d([
        [0, 0, 0],
        [1, 2, 3],
      ]);
      const b = tf.tensor2d([
        [1, 0, 0],
        [3, 2, 1],
      ]);
      const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => orthogonalityLoss(x, y))([a, b]);
      const da = Array.from(await ga!.data());
      expect(da.every(Number.isFinite)).toBe(true);
      expect(da.slice(0, 3)).toEqual([0, 0, 0]);
      expect(Array.from(await gb!.data()).every(Number.isFinite)).toBe(true);
      tf.dispose([a, b, ga!, gb!]);
    });

    it('rejects bad shapes and configs', () => {
      expect(() => orthogonalityLoss(tf.zeros([2, 4]), tf.zeros([2, 5]))).toThrow(
        /anomalyAnchor has shape \[2, 5\], expected the shape of normalAnchor \[2, 4\]/,
      );
      expect(() => orthogonalityLoss(tf.zeros([4]), tf.zeros([4]))).toThrow(/normalAnchor must have rank 2 \(\[B, D\]\)/);
      expect(() => resolveOrthogonalityLossConfig({ eps: 0 })).toThrow(/eps must be > 0/);
    });
  },
  { backends: ['cpu', 'wasm'] },
);
