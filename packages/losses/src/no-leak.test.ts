import * as tf from '@tensorflow/tfjs-core';
import { describeBackends, expectNoLeak } from '@hgm/tensor/testing';
import { focalLoss } from './focal-loss';
import { binaryDiceLoss } from './binary-dice-loss';
import { crossEntropy } from './cross-entropy';
import { bceWithLogits } from './bce-with-logits';
import { sigmoidFocalLoss } from './sigmoid-focal-loss';
import { orthogonalityLoss } from './orthogonality-loss';
import { groupAlignmentLoss } from './group-alignment-loss';
import { maskToPatchGrid } from './mask-to-patch-grid';
import { mapLoss, mapsLoss } from './map-loss';
import { ensureGradients } from './test-support';

ensureGradients();

describeBackends(
  'losses do not leak tensors',
  ({ it }) => {
    it('values and gradients of every loss', async () => {
      const logits = tf.randomNormal([2, 4, 4, 2], 0, 2, 'float32', 1);
      const mask = tf.cast(tf.greater(tf.randomUniform([2, 4, 4], 0, 1, 'float32', 2), 0.7), 'float32');
      const img = tf.randomNormal([6, 2], 0, 1, 'float32', 3);
      const labels = tf.tensor1d([0, 1, 1, 0, 1, 0], 'int32');
      const bce = tf.randomNormal([10], 0, 3, 'float32', 4);
      const targets = tf.tensor1d([0, 1, 0, 1, 1, 0, 0, 1, 0, 1]);
      const anchors = tf.randomNormal([2, 2, 8], 0, 1, 'float32', 5);
      const [normalAnchor, anomalyAnchor] = tf.unstack(anchors, 1) as [tf.Tensor, tf.Tensor];
      const patchFeatures = tf.randomNormal([2, 4, 8], 0, 1, 'float32', 6);
      const patchMask = maskToPatchGrid(mask, [2, 2]);
      const probsOf = (x: tf.Tensor) => tf.softmax(x);
      const probs = probsOf(logits);
      const soft = tf.sigmoid(bce);
      // Each call's inputs exist beforehand, so anything left over was made by the loss itself.
      const steps: [string, () => tf.TensorContainer][] = [
        ['focalLoss', () => focalLoss(probs, mask)],
        ['binaryDiceLoss', () => binaryDiceLoss(soft, targets)],
        ['crossEntropy', () => crossEntropy(img, labels)],
        ['bceWithLogits', () => bceWithLogits(bce, targets)],
        ['sigmoidFocalLoss', () => sigmoidFocalLoss(bce, targets)],
        ['orthogonalityLoss', () => orthogonalityLoss(normalAnchor, anomalyAnchor)],
        ['groupAlignmentLoss', () => groupAlignmentLoss({ normalAnchor, anomalyAnchor, patchFeatures, patchMask })],
        ['maskToPatchGrid', () => maskToPatchGrid(mask, [2, 2], 'max')],
        ['grad mapLoss', () => tf.grad((x: tf.Tensor) => mapLoss(probsOf(x), mask, { weight: 4 }).total)(logits)],
        [
          'grads alignment + orthogonality',
          () =>
            tf.grads((n: tf.Tensor, a: tf.Tensor, f: tf.Tensor) =>
              tf.add(groupAlignmentLoss({ normalAnchor: n, anomalyAnchor: a, patchFeatures: f, patchMask }), orthogonalityLoss(n, a)),
            )([normalAnchor, anomalyAnchor, patchFeatures]),
        ],
        ['grad sigmoid focal', () => tf.grad((x: tf.Tensor) => sigmoidFocalLoss(x, targets))(bce)],
        ['grad crossEntropy', () => tf.grad((x: tf.Tensor) => crossEntropy(x, labels))(img)],
      ];
      for (const [name, fn] of steps) await expectNoLeak(() => tf.dispose(fn()), { name });
      tf.dispose([probs, soft, logits, mask, img, labels, bce, targets, anchors, normalAnchor, anomalyAnchor, patchFeatures, patchMask]);
    });

    it('mapLoss and mapsLoss return only what they report', async () => {
      const probs = tf.softmax(tf.randomNormal([1, 3, 3, 2], 0, 1, 'float32', 7));
      const mask = tf.cast(tf.greater(tf.randomUniform([1, 3, 3], 0, 1, 'float32', 8), 0.5), 'float32');
      await expectNoLeak(() => tf.dispose(Object.values(mapLoss(probs, mask))), { name: 'mapLoss' });
      await expectNoLeak(
        () => {
          const r = mapsLoss([probs, probs], mask);
          tf.dispose([r.total, ...r.perMap.flatMap((t) => Object.values(t))]);
        },
        { name: 'mapsLoss' },
      );
      tf.dispose([probs, mask]);
    });
  },
  { backends: ['cpu', 'wasm'] },
);
