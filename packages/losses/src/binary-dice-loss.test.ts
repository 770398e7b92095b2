import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { expect } from 'vitest';
import { describeBackends } from '@hgm/tensor/testing';
import { binaryDiceLoss, resolveBinaryDiceLossConfig } from './binary-dice-loss';
import { scalarValue } from './test-support';
import { ConfigError, ShapeError } from '@hgm/tensor';

function referenceDice(x: number[], t: number[], batch: number, smooth: number): number {
  const per = x.length / batch;
  let diceSum = 0;
  for (let b = 0; b < batch; b++) {
    let inter = 0;
    let sx = 0;
    let st = 0;
    for (let i = b * per; i < (b + 1) * per; i++) {
      inter += x[i]! * t[i]!;
      sx += x[i]!;
      st += t[i]!;
    }
    diceSum += (2 * inter + smooth) / (sx + st + smooth);
  }
  return 1 - diceSum / batch;
}

/** B images of P pixels: soft predictions and a 0/1 mask. */
const predictionsAndMasks = fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 20 })).chain(([batch, pixels]) =>
  fc.record({
    batch: fc.constant(batch),
    pixels: fc.constant(pixels),
    x: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: batch * pixels, maxLength: batch * pixels }),
    t: fc.array(fc.constantFrom(0, 1), { minLength: batch * pixels, maxLength: batch * pixels }),
  }),
);

describeBackends(
  'binaryDiceLoss',
  ({ it }) => {
    it('matches the AnomalyCLIP formula (per-image Dice, mean over the batch) for any smooth', async () => {
      await fc.assert(
        fc.asyncProperty(predictionsAndMasks, fc.constantFrom(0.5, 1, 2), async ({ batch, pixels, x, t }, smooth) => {
          const xt = tf.tensor2d(x, [batch, pixels]);
          const tt = tf.tensor2d(t, [batch, pixels]);
          expect(await scalarValue(binaryDiceLoss(xt, tt, { smooth }))).toBeCloseTo(referenceDice(x, t, batch, smooth), 5);
          tf.dispose([xt, tt]);
        }),
        { numRuns: 30 },
      );
    });

    it('is zero for a perfect prediction, in [0, 1], and symmetric in its two arguments', async () => {
      await fc.assert(
        fc.asyncProperty(predictionsAndMasks, async ({ batch, pixels, x, t }) => {
          const xt = tf.tensor2d(x, [batch, pixels]);
          const tt = tf.tensor2d(t, [batch, pixels]);
          expect(Math.abs(await scalarValue(binaryDiceLoss(tt, tt)))).toBeLessThan(1e-6);
          const forward = await scalarValue(binaryDiceLoss(xt, tt));
          const backward = await scalarValue(binaryDiceLoss(tt, xt));
          expect(forward).toBeGreaterThanOrEqual(-1e-6);
          expect(forward).toBeLessThanOrEqual(1);
          expect(backward).toBeCloseTo(forward, 6);
          tf.dispose([xt, tt]);
        }),
        { numRuns: 30 },
      );
    });

    it('does not penalise a normal image predicted empty, and penalises a full prediction by 1 - 1/(P + 1)', async () => {
      const empty = tf.zeros([1, 4, 4]);
      const full = tf.ones([1, 4, 4]);
      expect(await scalarValue(binaryDiceLoss(empty, empty))).toBe(0);
      expect(await scalarValue(binaryDiceLoss(full, empty))).toBeCloseTo(1 - 1 / 17, 6);
      tf.dispose([empty, full]);
    });

    it('rejects bad inputs and configs', () => {
      expect(() => binaryDiceLoss(tf.zeros([2, 3]), tf.zeros([2, 4]))).toThrow(
        /binaryDiceLoss: target has shape \[2, 4\], expected the shape of input \[2, 3\]/,
      );
      expect(() => resolveBinaryDiceLossConfig({ smooth: -1 })).toThrow(/smooth must be >= 0, found -1/);
      const shapeError = (() => {
        try {
          binaryDiceLoss(tf.zeros([2, 3]), tf.zeros([2, 4]));
        } catch (e) {
          return e;
        }
      })();
      expect(shapeError).toBeInstanceOf(ShapeError);
      expect(shapeError).toMatchObject({ code: 'shape', input: 'target', expected: '[2, 3]', found: '[2, 4]' });
      expect(() => resolveBinaryDiceLossConfig({ smooth: -1 })).toThrow(ConfigError);
    });
  },
  { backends: ['cpu', 'wasm'] },
);
