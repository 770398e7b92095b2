import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { describeBackends, expectClose } from '@hgm/tensor/testing';
import { maskToPatchGrid } from './mask-to-patch-grid';

describeBackends(
  'maskToPatchGrid',
  ({ it }) => {
    // One 4x6 mask on a 2x3 grid of 2x2 patches: patch (0,0) has 1 anomalous pixel, (0,2) all 4,
    // (1,1) 2 (one of them 0.6, above the 0.5 threshold; 0.4 counts as normal).
    const mask = [
      [1, 0, 0, 0, 1, 1],
      [0, 0, 0, 0, 1, 1],
      [0, 0, 0.6, 0.4, 0, 0],
      [0, 0, 1, 0, 0, 0],
    ];

    it("'area' gives the anomalous fraction of each patch, row-major", async () => {
      const m = tf.tensor3d([mask]);
      const grid = maskToPatchGrid(m, [2, 3]);
      expect(grid.shape).toEqual([1, 6]);
      await expectClose(grid, [0.25, 0, 1, 0, 0.5, 0]);
      tf.dispose([m, grid]);
    });

    it("'max' marks every patch with an anomalous pixel", async () => {
      const m = tf.tensor3d([mask, mask.map((r) => r.map(() => 0))]);
      const grid = maskToPatchGrid(m, [2, 3], 'max');
      await expectClose(grid, [1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
      tf.dispose([m, grid]);
    });

    it('passes a mask at grid size through, binarised', async () => {
      const m = tf.tensor3d([
        [
          [0.2, 0.9],
          [1, 0],
        ],
      ]);
      const grid = maskToPatchGrid(m, [2, 2]);
      await expectClose(grid, [0, 1, 1, 0]);
      tf.dispose([m, grid]);
    });

    it('rejects a grid that does not divide the mask', () => {
      expect(() => maskToPatchGrid(tf.zeros([1, 518, 518]), [32, 32])).toThrow(/mask size 518x518 is not a whole multiple of the patch grid 32x32/);
      expect(() => maskToPatchGrid(tf.zeros([518, 518]), [37, 37])).toThrow(/mask must have rank 3 \(\[B, H, W\]\), found shape \[518, 518\]/);
    });
  },
  { backends: ['cpu', 'wasm'] },
);
