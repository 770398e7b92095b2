import * as tf from '@tensorflow/tfjs-core';
import { resizeBicubic } from '@hgm/nn';
import { ShapeError } from '@hgm/tensor';

/** How DINOv2 resizes its learned positional embedding (`interpolate_antialias`, `interpolate_offset`). */
export interface PosEmbedInterpolation {
  antialias: boolean;
  /** 0: resize with `size=(H/p, W/p)`; otherwise `scale_factor=((H/p + offset) / M, (W/p + offset) / M)`. */
  offset: number;
}

/**
 * DINOv2's `interpolate_pos_encoding(x, w, h)` for an image of `height x width` pixels: the CLS row unchanged,
 * the M x M patch grid resized bicubically to (height / p) x (width / p). The stored embedding is returned
 * (as a copy) when the token count already matches and the image is square, exactly as the reference skips.
 * With a non-zero offset the reference passes a scale factor, which sets the output size to
 * `floor(M * (n + offset) / M)` and the sampling scale to `M / (n + offset)` (not `M / n`).
 *
 * @param posEmbed [1, 1 + M * M, D]
 * @returns [1, 1 + (height / p) * (width / p), D]
 */
export function interpolatePosEmbed(posEmbed: tf.Tensor, height: number, width: number, patchSize: number, options: PosEmbedInterpolation): tf.Tensor3D {
  if (posEmbed.rank !== 3 || posEmbed.shape[0] !== 1)
    throw new ShapeError(`interpolatePosEmbed: posEmbed must be [1, 1 + M*M, D], found [${posEmbed.shape.join(', ')}]`);
  const [, tokens, dim] = posEmbed.shape as [number, number, number];
  const n = tokens - 1;
  const gridH = Math.floor(height / patchSize);
  const gridW = Math.floor(width / patchSize);
  if (gridH * gridW === n && height === width) return tf.clone(posEmbed) as tf.Tensor3D;
  const m = Math.round(Math.sqrt(n));
  if (m * m !== n) throw new ShapeError(`interpolatePosEmbed: ${n} patch positions do not form a square grid`);
  let outH = gridH;
  let outW = gridW;
  let scales: [number, number] | undefined;
  if (options.offset) {
    const sy = (gridH + options.offset) / m;
    const sx = (gridW + options.offset) / m;
    outH = Math.floor(m * sy);
    outW = Math.floor(m * sx);
    scales = [1 / sy, 1 / sx];
    if (outH !== gridH || outW !== gridW) {
      throw new ShapeError(`interpolatePosEmbed: scale factor gives a ${outH} x ${outW} grid, expected ${gridH} x ${gridW} (offset ${options.offset})`);
    }
  }
  return tf.tidy(() => {
    const cls = tf.slice(posEmbed, [0, 0, 0], [1, 1, dim]);
    const grid = tf.reshape(tf.slice(posEmbed, [0, 1, 0], [1, n, dim]), [m, m, dim]) as tf.Tensor3D;
    const resized = resizeBicubic(grid, outH, outW, { antialias: options.antialias, ...(scales ? { scales } : {}) });
    return tf.concat([cls, tf.reshape(resized, [1, outH * outW, dim])], 1) as tf.Tensor3D;
  });
}
