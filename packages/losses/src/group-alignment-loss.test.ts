import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { expect } from 'vitest';
import { describeBackends } from '@hgm/tensor/testing';
import { groupAlignmentLoss } from './group-alignment-loss';
import { ensureGradients, scalarValue } from './test-support';

ensureGradients();

const cos = (a: number[], b: number[]) => {
  const d = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * y[i]!, 0);
  return d(a, b) / Math.sqrt(d(a, a) * d(b, b));
};

/** Weighted mean of the rows of `features` ([M][D]) with weights w. */
const weightedMean = (features: number[][], w: number[]) => {
  const mass = w.reduce((a, b) => a + b, 0);
  return features[0]!.map((_, j) => features.reduce((s, f, m) => s + w[m]! * f[j]!, 0) / mass);
};

/** One image: M patch features of dimension D, a 0/1 patch mask, and two anchors. */
const image = (patches: number, dim: number) =>
  fc.record({
    features: fc.array(fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: dim, maxLength: dim }), { minLength: patches, maxLength: patches }),
    mask: fc.array(fc.constantFrom(0, 1), { minLength: patches, maxLength: patches }),
    normalAnchor: fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: dim, maxLength: dim }),
    anomalyAnchor: fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: dim, maxLength: dim }),
  });

const batches = fc
  .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 2, max: 8 }))
  .chain(([batch, patches, dim]) => fc.array(image(patches, dim), { minLength: batch, maxLength: batch }).map((images) => ({ batch, patches, dim, images })));

type Batch = {
  batch: number;
  patches: number;
  dim: number;
  images: { features: number[][]; mask: number[]; normalAnchor: number[]; anomalyAnchor: number[] }[];
};

function toInputs(b: Batch) {
  return {
    normalAnchor: tf.tensor2d(
      b.images.map((i) => i.normalAnchor),
      [b.batch, b.dim],
    ),
    anomalyAnchor: tf.tensor2d(
      b.images.map((i) => i.anomalyAnchor),
      [b.batch, b.dim],
    ),
    patchFeatures: tf.tensor3d(
      b.images.map((i) => i.features),
      [b.batch, b.patches, b.dim],
    ),
    patchMask: tf.tensor2d(
      b.images.map((i) => i.mask),
      [b.batch, b.patches],
    ),
  };
}

/** The documented rule: each image averages the cosine terms it has, then the mean over images. */
function reference(b: Batch): number {
  return (
    b.images.reduce((s, img) => {
      const normalW = img.mask.map((m) => 1 - m);
      const terms: number[] = [];
      if (normalW.some((w) => w > 0)) terms.push(cos(img.normalAnchor, weightedMean(img.features, normalW)));
      if (img.mask.some((w) => w > 0)) terms.push(cos(img.anomalyAnchor, weightedMean(img.features, img.mask)));
      return s + 1 - terms.reduce((a, c) => a + c, 0) / terms.length;
    }, 0) / b.batch
  );
}

const wellConditioned = (b: Batch) =>
  b.images.every((img) => {
    const norm = (v: number[]) => Math.hypot(...v);
    const nw = img.mask.map((m) => 1 - m);
    return (
      norm(img.normalAnchor) > 0.1 &&
      norm(img.anomalyAnchor) > 0.1 &&
      (!nw.some((w) => w > 0) || norm(weightedMean(img.features, nw)) > 0.1) &&
      (!img.mask.some((w) => w > 0) || norm(weightedMean(img.features, img.mask)) > 0.1)
    );
  });

describeBackends(
  'groupAlignmentLoss',
  ({ it }) => {
    it('matches 1 - (cos(G_N, Z_N) + cos(G_A, Z_A)) / 2, leaving out a missing term per image', async () => {
      await fc.assert(
        fc.asyncProperty(batches.filter(wellConditioned), async (b) => {
          const inputs = toInputs(b);
          expect(await scalarValue(groupAlignmentLoss(inputs))).toBeCloseTo(reference(b), 4);
          tf.dispose(Object.values(inputs));
        }),
        { numRuns: 20 },
      );
    });

    it('is 0 when each anchor points along its mean (any positive scale) and 2 when against it', async () => {
      await fc.assert(
        fc.asyncProperty(batches.filter(wellConditioned), fc.double({ min: 0.1, max: 10, noNaN: true }), async (b, scale) => {
          const aligned: Batch = {
            ...b,
            images: b.images.map((img) => {
              const nw = img.mask.map((m) => 1 - m);
              return {
                ...img,
                normalAnchor: nw.some((w) => w > 0) ? weightedMean(img.features, nw).map((v) => v * scale) : img.normalAnchor,
                anomalyAnchor: img.mask.some((w) => w > 0) ? weightedMean(img.features, img.mask).map((v) => v * scale) : img.anomalyAnchor,
              };
            }),
          };
          const inputs = toInputs(aligned);
          expect(Math.abs(await scalarValue(groupAlignmentLoss(inputs)))).toBeLessThan(1e-5);
          const opposite = { ...inputs, normalAnchor: tf.neg(inputs.normalAnchor), anomalyAnchor: tf.neg(inputs.anomalyAnchor) };
          expect(await scalarValue(groupAlignmentLoss(opposite))).toBeCloseTo(2, 5);
          tf.dispose([...Object.values(inputs), opposite.normalAnchor, opposite.anomalyAnchor]);
        }),
        { numRuns: 20 },
      );
    });

    it('for a normal image is 1 - cos(G_N, mean patch) and gives G_A no gradient', async () => {
      const inputs = {
        normalAnchor: tf.tensor2d([[1, 0]]),
        anomalyAnchor: tf.tensor2d([[0.3, -2]]),
        patchFeatures: tf.tensor3d([
          [
            [1, 1],
            [1, 3],
          ],
        ]),
        patchMask: tf.zeros([1, 2]),
      };
      expect(await scalarValue(groupAlignmentLoss(inputs))).toBeCloseTo(1 - 1 / Math.sqrt(5), 6);
      const [gn, ga, gf] = tf.grads((n: tf.Tensor, a: tf.Tensor, f: tf.Tensor) =>
        groupAlignmentLoss({ normalAnchor: n, anomalyAnchor: a, patchFeatures: f, patchMask: inputs.patchMask }),
      )([inputs.normalAnchor, inputs.anomalyAnchor, inputs.patchFeatures]);
      expect(Array.from(await ga!.data()).every((v) => v === 0)).toBe(true);
      for (const g of [gn!, gf!]) {
        const d = Array.from(await g.data());
        expect(d.every(Number.isFinite)).toBe(true);
        expect(d.some((v) => v !== 0)).toBe(true);
      }
      tf.dispose([...Object.values(inputs), gn!, ga!, gf!]);
    });

    it('uses soft patch weights as a weighted mean', async () => {
      const inputs = {
        normalAnchor: tf.tensor2d([[1, 0]]),
        anomalyAnchor: tf.tensor2d([[0, 1]]),
        patchFeatures: tf.tensor3d([
          [
            [1, 0],
            [0, 1],
          ],
        ]),
        patchMask: tf.tensor2d([[0.25, 0.5]]),
      };
      // Z_N = (0.75, 0.5) / 1.25, Z_A = (0.25, 0.5) / 0.75
      const expected = 1 - (cos([1, 0], [0.75, 0.5]) + cos([0, 1], [0.25, 0.5])) / 2;
      expect(await scalarValue(groupAlignmentLoss(inputs))).toBeCloseTo(expected, 6);
      tf.dispose(Object.values(inputs));
    });

    it('rejects mismatched shapes', () => {
      const ok = { normalAnchor: tf.zeros([2, 4]), anomalyAnchor: tf.zeros([2, 4]), patchFeatures: tf.zeros([2, 9, 4]), patchMask: tf.zeros([2, 9]) };
      expect(() => groupAlignmentLoss({ ...ok, patchMask: tf.zeros([2, 8]) })).toThrow(
        /patchMask has shape \[2, 8\], expected the shape of patchFeatures\[:, :, 0\] \[2, 9\]/,
      );
      expect(() => groupAlignmentLoss({ ...ok, patchFeatures: tf.zeros([2, 9, 5]) })).toThrow(/expected the shape of normalAnchor \[2, 4\]/);
      tf.dispose(Object.values(ok));
    });
  },
  { backends: ['cpu', 'wasm'] },
);
