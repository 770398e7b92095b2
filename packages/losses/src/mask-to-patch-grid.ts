import * as tf from '@tensorflow/tfjs-core';
import { checkNumber, checkRank } from './checks';
import { ConfigError, ShapeError } from '@hgm/tensor';

/**
 * How a pixel mask becomes one value per patch:
 * - 'area': the fraction of the patch's pixels that are anomalous (average pooling), a soft weight in [0, 1];
 *   a defect smaller than a patch still counts, in proportion to its area.
 * - 'max': 1 when any pixel of the patch is anomalous (max pooling), else 0.
 */
export type MaskDownsampling = 'area' | 'max';

export const MASK_DOWNSAMPLINGS: readonly MaskDownsampling[] = ['area', 'max'];

/**
 * Downsamples a ground-truth mask at input size to the patch grid. Pixels above `threshold` count as
 * anomalous (AnomalyCLIP binarises its masks at 0.5 the same way). The input size must be a whole multiple
 * of the grid (input = grid x patch size, as a non-overlapping patch embedding gives); a mask already at grid
 * size passes through (binarised; 'area' and 'max' agree there).
 *
 * @param mask [B, H, W] ground truth at input size
 * @param grid [h, w] patch grid, H % h == 0 and W % w == 0
 * @param mode 'area' (default) or 'max'
 * @param threshold binarisation threshold, default 0.5
 * @returns [B, h * w] per-patch anomaly weight in [0, 1], row-major like the patch tokens
 */
export function maskToPatchGrid(mask: tf.Tensor, grid: readonly [number, number], mode: MaskDownsampling = 'area', threshold = 0.5): tf.Tensor2D {
  const name = 'maskToPatchGrid';
  checkRank(name, 'mask', mask, 3, '[B, H, W]');
  if (!MASK_DOWNSAMPLINGS.includes(mode)) {
    throw new ConfigError(`${name}: mode must be one of ${MASK_DOWNSAMPLINGS.join(', ')}, found ${JSON.stringify(mode)}`);
  }
  checkNumber(name, 'threshold', threshold);
  const [batch, height, width] = mask.shape as [number, number, number];
  const [gh, gw] = grid;
  if (!Number.isInteger(gh) || !Number.isInteger(gw) || gh < 1 || gw < 1) {
    throw new ConfigError(`${name}: grid must be two positive integers [h, w], found ${JSON.stringify(grid)}`);
  }
  if (height % gh !== 0 || width % gw !== 0) {
    throw new ShapeError(
      `${name}: mask size ${height}x${width} is not a whole multiple of the patch grid ${gh}x${gw}; resize or pad the mask to grid x patch size first`,
    );
  }
  return tf.tidy(() => {
    const binary = tf.cast(tf.greater(mask, threshold), 'float32');
    const image = tf.reshape(binary, [batch, height, width, 1]) as tf.Tensor4D;
    const cell: [number, number] = [height / gh, width / gw];
    const pooled = mode === 'area' ? tf.avgPool(image, cell, cell, 'valid') : tf.maxPool(image, cell, cell, 'valid');
    return tf.reshape(pooled, [batch, gh * gw]) as tf.Tensor2D;
  });
}
