import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { expect } from 'vitest';
import { describeBackends } from '@hgm/tensor/testing';
import { mapLoss, mapsLoss, resolveMapLossConfig, type MapLossTerms } from './map-loss';
import { focalLoss } from './focal-loss';
import { binaryDiceLoss } from './binary-dice-loss';
import { scalarValue } from './test-support';

/** B maps of H x W: logits for the two channels and a 0/1 mask. */
const mapsAndMasks = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 })).chain(([b, h, w]) =>
  fc.record({
    shape: fc.constant([b, h, w] as [number, number, number]),
    logits: fc.array(fc.double({ min: -6, max: 6, noNaN: true }), { minLength: b * h * w * 2, maxLength: b * h * w * 2 }),
    mask: fc.array(fc.constantFrom(0, 1), { minLength: b * h * w, maxLength: b * h * w }),
  }),
);

async function termValues(t: MapLossTerms): Promise<Record<keyof MapLossTerms, number>> {
  return {
    focal: await scalarValue(t.focal),
    anomalyDice: await scalarValue(t.anomalyDice),
    normalDice: await scalarValue(t.normalDice),
    total: await scalarValue(t.total),
  };
}

describeBackends(
  'mapLoss',
  ({ it }) => {
    it('reports Focal(A, S), Dice(A_a, S), Dice(A_n, 1 - S) and their weighted sum', async () => {
      await fc.assert(
        fc.asyncProperty(mapsAndMasks, fc.constantFrom(1, 4, 0.5), async ({ shape, logits, mask }, weight) => {
          const probs = tf.softmax(tf.tensor4d(logits, [...shape, 2]));
          const s = tf.tensor3d(mask, shape);
          const [an, aa] = tf.unstack(probs, 3);
          const notS = tf.sub(1, s);
          const terms = await termValues(mapLoss(probs, s, { weight }));
          expect(terms.focal).toBeCloseTo(await scalarValue(focalLoss(probs, s)), 6);
          expect(terms.anomalyDice).toBeCloseTo(await scalarValue(binaryDiceLoss(aa!, s)), 6);
          expect(terms.normalDice).toBeCloseTo(await scalarValue(binaryDiceLoss(an!, notS)), 6);
          expect(terms.total).toBeCloseTo(weight * (terms.focal + terms.anomalyDice + terms.normalDice), 5);
          tf.dispose([probs, s, an!, aa!, notS]);
        }),
        { numRuns: 20 },
      );
    });

    it('is zero for a perfect map', async () => {
      await fc.assert(
        fc.asyncProperty(mapsAndMasks, async ({ shape, mask }) => {
          const s = tf.tensor3d(mask, shape);
          const probs = tf.stack([tf.sub(1, s), s], 3);
          const terms = await termValues(mapLoss(probs, s));
          for (const v of Object.values(terms)) expect(Math.abs(v)).toBeLessThan(1e-6);
          tf.dispose([s, probs]);
        }),
        { numRuns: 20 },
      );
    });

    it('is symmetric: swapping the channels and inverting the mask swaps the two Dice terms', async () => {
      await fc.assert(
        fc.asyncProperty(mapsAndMasks, async ({ shape, logits, mask }) => {
          const probs = tf.softmax(tf.tensor4d(logits, [...shape, 2]));
          const swapped = tf.reverse(probs, 3);
          const s = tf.tensor3d(mask, shape);
          const notS = tf.sub(1, s);
          const a = await termValues(mapLoss(probs, s));
          const b = await termValues(mapLoss(swapped, notS));
          expect(b.focal).toBeCloseTo(a.focal, 6);
          expect(b.anomalyDice).toBeCloseTo(a.normalDice, 6);
          expect(b.normalDice).toBeCloseTo(a.anomalyDice, 6);
          tf.dispose([probs, swapped, s, notS]);
        }),
        { numRuns: 20 },
      );
    });

    it('mapsLoss sums the maps and reports each', async () => {
      const s = tf.tensor3d([
        [
          [0, 1],
          [1, 0],
        ],
      ]);
      const maps = [tf.softmax(tf.tensor4d([1, 2, 0, 0, -1, 3, 2, 2], [1, 2, 2, 2])), tf.softmax(tf.tensor4d([0, 1, 1, 0, 2, -2, 0, 3], [1, 2, 2, 2]))];
      const result = mapsLoss(maps, s);
      expect(result.perMap).toHaveLength(2);
      const perMap = await Promise.all(result.perMap.map(termValues));
      expect(await scalarValue(result.total)).toBeCloseTo(perMap[0]!.total + perMap[1]!.total, 5);
      tf.dispose([s, ...maps]);
    });

    it('rejects bad maps and configs', () => {
      const s = tf.zeros([1, 2, 2]);
      expect(() => mapLoss(tf.zeros([1, 2, 2, 3]), s)).toThrow(/probs must have 2 channels \(normal, anomalous\) on its last axis, found shape \[1, 2, 2, 3\]/);
      expect(() => mapLoss(tf.zeros([1, 2, 3, 2]), s)).toThrow(/mask has shape \[1, 2, 2\], expected the shape of probs\[\.\.\., 0\] \[1, 2, 3\]/);
      expect(() => mapsLoss([tf.zeros([1, 2, 2, 2]), tf.zeros([1, 3, 3, 2])], s)).toThrow(/mapsLoss: map 1: mapLoss: mask has shape/);
      expect(() => mapsLoss([], s)).toThrow(/at least one map/);
      expect(() => resolveMapLossConfig({ weight: -1 })).toThrow(/weight must be >= 0, found -1/);
      expect(() => resolveMapLossConfig({ focal: { gamma: -2 } })).toThrow(/gamma must be >= 0/);
      expect(resolveMapLossConfig({ focal: { gamma: 3 } })).toEqual({ focal: { gamma: 3, smooth: 1e-5, classWeights: null }, dice: { smooth: 1 }, weight: 1 });
    });
  },
  { backends: ['cpu', 'wasm'] },
);
