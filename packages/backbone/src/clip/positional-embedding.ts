import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@hgm/tensor';
import { bilinearResizeMatrix } from '@hgm/nn';

/**
 * Resizes a ViT positional table to another patch grid as AnomalyCLIP's `VisionTransformer.forward`
 * does: the CLS row is kept, the patch rows (a square grid, row-major) are resized bilinearly
 * (`align_corners=False`, no antialias). Returns the table itself (a new handle) when the grid matches.
 *
 * The reference only handles square grids; a rectangular target grid resizes each axis the same way.
 *
 * @param table [1 + g*g, W]
 * @param grid target grid [gridH, gridW]
 * @returns [1 + gridH*gridW, W]
 */
export function interpolatePositionalEmbedding(table: tf.Tensor2D, grid: readonly [number, number]): tf.Tensor2D {
  const [n, width] = table.shape;
  const side = Math.round(Math.sqrt(n - 1));
  if (side * side !== n - 1) throw new ShapeError(`interpolatePositionalEmbedding: table has ${n} rows, expected 1 + a square number`);
  const [gh, gw] = grid;
  if (gh === side && gw === side) return tf.clone(table);
  return tf.tidy(() => {
    const ry = bilinearResizeMatrix(side, gh);
    const rx = bilinearResizeMatrix(side, gw);
    // K[(Y*gw + X), (y*side + x)] = ry[Y, y] * rx[X, x]
    const k = new Float32Array(gh * gw * side * side);
    for (let Y = 0; Y < gh; Y++) {
      for (let X = 0; X < gw; X++) {
        const row = (Y * gw + X) * side * side;
        for (let y = 0; y < side; y++) {
          const a = ry[Y * side + y]!;
          if (a === 0) continue;
          for (let x = 0; x < side; x++) {
            const b = rx[X * side + x]!;
            if (b !== 0) k[row + y * side + x] = a * b;
          }
        }
      }
    }
    const cls = tf.slice(table, [0, 0], [1, width]);
    const patches = tf.slice(table, [1, 0], [n - 1, width]);
    const resized = tf.matMul(tf.tensor2d(k, [gh * gw, side * side]), patches);
    return tf.concat([cls, resized], 0) as tf.Tensor2D;
  });
}
