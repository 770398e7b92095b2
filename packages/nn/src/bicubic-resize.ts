import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@hgm/tensor';

/**
 * Bicubic resampling as PyTorch's `F.interpolate(mode="bicubic", align_corners=False)` computes it, written
 * as one dense weight matrix per axis so that a 2-D resize is two matrix products.
 *
 * Two kernels exist in the reference and give different numbers:
 * - `antialias: true`: the separable PIL-style resampler (`_upsample_bicubic2d_aa`). Per output index i,
 *   with `scale = in / out` (or `1 / scale_factor` when a scale factor is given), `support = 2 * scale`
 *   when downsampling (scale >= 1) and 2 otherwise, the taps are the input indices in
 *   `[max(trunc(center - support + 0.5), 0), min(trunc(center + support + 0.5), in))`, `center = scale * (i + 0.5)`,
 *   weighted by Keys' cubic with **a = -0.5** at `(j - center + 0.5) / max(scale, 1)`, normalised to sum 1.
 *   Borders are handled by renormalising over the taps that exist.
 * - `antialias: false`: the classic bicubic (`upsample_bicubic2d`): source position `scale * (i + 0.5) - 0.5`,
 *   four taps around its floor, Keys' cubic with **a = -0.75**, indices clamped to the border (replicate).
 */

/** Keys' cubic convolution kernel with parameter `a`. */
export function cubicKernel(x: number, a: number): number {
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

/** Options of a 1-D or 2-D bicubic resize. */
export interface BicubicOptions {
  /** PIL-style antialiased kernel (torch `antialias=True`). */
  antialias: boolean;
  /**
   * The coordinate scale `in / out` used to map output to input positions. Default `inSize / outSize`
   * (torch's `size=` path); torch's `scale_factor=s` path uses `1 / s` here.
   */
  scale?: number;
}

/**
 * Dense 1-D resampling matrix.
 * @returns [outSize, inSize] row-major, float64; row i holds the weights of output i.
 */
export function bicubicWeights(inSize: number, outSize: number, options: BicubicOptions): Float64Array {
  if (!Number.isInteger(inSize) || inSize < 1) throw new ConfigError(`bicubicWeights: inSize must be a positive integer, found ${inSize}`);
  if (!Number.isInteger(outSize) || outSize < 1) throw new ConfigError(`bicubicWeights: outSize must be a positive integer, found ${outSize}`);
  const scale = options.scale ?? inSize / outSize;
  if (!(scale > 0) || !Number.isFinite(scale)) throw new ConfigError(`bicubicWeights: scale must be a positive finite number, found ${scale}`);
  const m = new Float64Array(outSize * inSize);
  if (options.antialias) {
    const support = scale >= 1 ? 2 * scale : 2;
    const invScale = scale >= 1 ? 1 / scale : 1;
    for (let i = 0; i < outSize; i++) {
      const center = scale * (i + 0.5);
      const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
      const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
      let total = 0;
      for (let j = xmin; j < xmax; j++) {
        const w = cubicKernel((j - center + 0.5) * invScale, -0.5);
        m[i * inSize + j] = w;
        total += w;
      }
      if (total !== 0) for (let j = xmin; j < xmax; j++) m[i * inSize + j]! /= total;
    }
  } else {
    const a = -0.75;
    for (let i = 0; i < outSize; i++) {
      const real = scale * (i + 0.5) - 0.5;
      const base = Math.floor(real);
      const t = real - base;
      const taps = [cubicKernel(t + 1, a), cubicKernel(t, a), cubicKernel(1 - t, a), cubicKernel(2 - t, a)];
      for (let k = 0; k < 4; k++) {
        const j = Math.min(Math.max(base - 1 + k, 0), inSize - 1);
        m[i * inSize + j]! += taps[k]!;
      }
    }
  }
  return m;
}

/**
 * Resizes a channels-last image or grid with bicubic interpolation (separable: rows, then columns).
 * @param x [H, W, C]
 * @param outH output height
 * @param outW output width
 * @param options kernel choice; `scales` = [scaleH, scaleW] overrides the coordinate scales (`in / out` by default)
 * @returns [outH, outW, C]
 */
export function resizeBicubic(x: tf.Tensor3D, outH: number, outW: number, options: { antialias: boolean; scales?: [number, number] }): tf.Tensor3D {
  if (x.rank !== 3) throw new ShapeError(`resizeBicubic: x must be [H, W, C], found shape [${x.shape.join(', ')}]`);
  const [h, w, c] = x.shape;
  // The reference copies an axis whose size does not change, whatever the scale factor: the antialiased
  // kernel per axis, the classic kernel only when both axes keep their size.
  const keepH = options.antialias ? h === outH : h === outH && w === outW;
  const keepW = options.antialias ? w === outW : h === outH && w === outW;
  const wh = bicubicWeights(h, outH, { antialias: options.antialias, ...(options.scales && !keepH ? { scale: options.scales[0] } : {}) });
  const ww = bicubicWeights(w, outW, { antialias: options.antialias, ...(options.scales && !keepW ? { scale: options.scales[1] } : {}) });
  return tf.tidy(() => {
    const rowsW = tf.tensor2d(Float32Array.from(wh), [outH, h]);
    const colsW = tf.tensor2d(Float32Array.from(ww), [outW, w]);
    // Rows: [outH, H] x [H, W*C].
    const rows = tf.reshape(tf.matMul(rowsW, tf.reshape(x, [h, w * c])), [outH, w, c]);
    // Columns: [outW, W] x [W, outH*C].
    const byCol = tf.reshape(tf.transpose(rows, [1, 0, 2]), [w, outH * c]);
    const cols = tf.reshape(tf.matMul(colsW, byCol), [outW, outH, c]);
    return tf.transpose(cols, [1, 0, 2]) as tf.Tensor3D;
  });
}
