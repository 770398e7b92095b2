import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@hgm/tensor';

/**
 * 2-D rotary position embedding of DINOv3 (`RopePositionEmbedding`, eval mode: no coordinate shift, jitter or
 * rescale, which the reference applies only while training).
 *
 * Per patch (row-major over the grid) the coordinates per axis are `((i + 0.5) / n) * 2 - 1` (with
 * `normalizeCoords = "separate"`; `"max"` / `"min"` divide both axes by the larger / smaller side). The
 * angles `2 pi coord / period` form [HW, 2, headDim / 4], flattened to [HW, headDim / 2] (all row angles, then
 * all column angles) and tiled twice to [HW, headDim]. Queries and keys of the patch tokens are rotated as
 * `x cos + rotateHalf(x) sin` with `rotateHalf([x1, x2]) = [-x2, x1]` (halves of the head dimension).
 */

export type RopeNormalizeCoords = 'separate' | 'max' | 'min';

/** The sine and cosine tables of one patch grid. */
export interface RopeTables {
  /** [HW, headDim] */
  sin: tf.Tensor2D;
  /** [HW, headDim] */
  cos: tf.Tensor2D;
}

/**
 * The periods the reference's `_init_weights` computes (the checkpoint stores them as the buffer
 * `rope_embed.periods`, which is what the model uses).
 * - with `base`: `base ** (2 * arange(headDim / 4) / (headDim / 2))`
 * - with `minPeriod` / `maxPeriod`: `maxPeriod * (maxPeriod / minPeriod) ** (linspace(0, 1, headDim / 4) - 1)`
 * @returns [headDim / 4], float32 values
 */
export function ropePeriods(headDim: number, spec: { base: number } | { minPeriod: number; maxPeriod: number }): Float32Array {
  if (headDim % 4 !== 0) throw new ConfigError(`ropePeriods: head dimension must be a multiple of 4, found ${headDim}`);
  const n = headDim / 4;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if ('base' in spec) {
      out[i] = Math.pow(spec.base, Math.fround(Math.fround(2 * i) / (headDim / 2)));
    } else {
      const ratio = spec.maxPeriod / spec.minPeriod;
      const e = n === 1 ? 0 : i / (n - 1);
      out[i] = (Math.pow(ratio, e) / ratio) * spec.maxPeriod;
    }
  }
  return out;
}

/**
 * Normalised patch-centre coordinates, computed in float32 like the reference.
 * @returns [HW * 2] row-major: (row coordinate, column coordinate) per patch, in [-1, 1]
 */
export function ropeCoordinates(gridH: number, gridW: number, normalize: RopeNormalizeCoords): Float32Array {
  if (!Number.isInteger(gridH) || !Number.isInteger(gridW) || gridH < 1 || gridW < 1) {
    throw new ConfigError(`ropeCoordinates: grid must be positive integers, found ${gridH} x ${gridW}`);
  }
  const divH = normalize === 'separate' ? gridH : normalize === 'max' ? Math.max(gridH, gridW) : Math.min(gridH, gridW);
  const divW = normalize === 'separate' ? gridW : divH;
  const f = Math.fround;
  const out = new Float32Array(gridH * gridW * 2);
  for (let r = 0; r < gridH; r++) {
    const cr = f(2 * f((r + 0.5) / divH) - 1);
    for (let c = 0; c < gridW; c++) {
      out[(r * gridW + c) * 2] = cr;
      out[(r * gridW + c) * 2 + 1] = f(2 * f((c + 0.5) / divW) - 1);
    }
  }
  return out;
}

/**
 * The RoPE tables of a grid, as the reference's `rope_embed(H=gridH, W=gridW)` returns them.
 * @param periods [headDim / 4]
 * @returns sin and cos, [gridH * gridW, headDim] each
 */
export function ropeTables(periods: tf.Tensor, gridH: number, gridW: number, normalize: RopeNormalizeCoords): RopeTables {
  if (periods.rank !== 1) throw new ShapeError(`ropeTables: periods must be [headDim / 4], found shape [${periods.shape.join(', ')}]`);
  const n = gridH * gridW;
  const quarter = periods.shape[0]!;
  return tf.tidy(() => {
    const coords = tf.tensor3d(ropeCoordinates(gridH, gridW, normalize), [n, 2, 1]);
    const angles = tf.div(tf.mul(coords, Math.fround(2 * Math.PI)), tf.reshape(periods, [1, 1, quarter]));
    const flat = tf.reshape(angles, [n, 2 * quarter]);
    const tiled = tf.concat([flat, flat], 1);
    return { sin: tf.sin(tiled) as tf.Tensor2D, cos: tf.cos(tiled) as tf.Tensor2D };
  });
}

/** `[x1, x2] -> [-x2, x1]` over the last axis (halves). */
export function rotateHalf(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [x1, x2] = tf.split(x, 2, x.rank - 1);
    return tf.concat([tf.neg(x2!), x1!], x.rank - 1);
  });
}

/**
 * Rotates the last `HW` tokens of queries or keys; the first `N - HW` tokens (CLS, registers) stay as they are.
 * @param x [B, heads, N, headDim]
 * @param tables sin / cos [HW, headDim]
 * @returns [B, heads, N, headDim]
 */
export function applyRope(x: tf.Tensor4D, tables: RopeTables): tf.Tensor4D {
  const [b, h, n, d] = x.shape;
  const hw = tables.sin.shape[0];
  const prefix = n - hw;
  if (prefix < 0) throw new ShapeError(`applyRope: ${n} tokens but the RoPE tables cover ${hw} patches`);
  if (tables.sin.shape[1] !== d) throw new ShapeError(`applyRope: head dimension ${d}, RoPE tables have ${tables.sin.shape[1]}`);
  return tf.tidy(() => {
    const patches = tf.slice(x, [0, 0, prefix, 0], [b, h, hw, d]);
    const rotated = tf.add(tf.mul(patches, tables.cos), tf.mul(rotateHalf(patches), tables.sin));
    if (prefix === 0) return rotated as tf.Tensor4D;
    return tf.concat([tf.slice(x, [0, 0, 0, 0], [b, h, prefix, d]), rotated], 2) as tf.Tensor4D;
  });
}

/**
 * `rotateHalf` as a product with a signed permutation matrix on wasm (one XNNPACK matMul instead of a split,
 * a negation and a concat, whose slices copy their whole input there); exact for finite values (each output
 * is one input times +-1 plus exact zeros). Other backends use {@link rotateHalf}.
 * @param x [..., d]
 */
function rotateHalfForBackend(x: tf.Tensor): tf.Tensor {
  if (tf.getBackend() !== 'wasm') return rotateHalf(x);
  const d = x.shape[x.rank - 1]!;
  const half = d / 2;
  const p = new Float32Array(d * d);
  for (let j = 0; j < half; j++) {
    p[(j + half) * d + j] = -1;
    p[j * d + j + half] = 1;
  }
  return tf.tidy(() => tf.reshape(tf.matMul(tf.reshape(x, [-1, d]), tf.tensor2d(p, [d, d])), x.shape));
}

/**
 * {@link applyRope} on the queries and keys of stacked `[3, B, heads, N, d]` projections (q, k, v as
 * `qkvProjectionStacked` returns them), written without slices: `x cos' + rotateHalf(x) sin'` over the whole
 * tensor, with tables extended by cos = 1, sin = 0 for the leading `N - HW` tokens and for the v part, which
 * therefore come out unchanged (exactly, for finite values). The rotated q and k equal {@link applyRope}'s.
 *
 * @param qkv [3, B, heads, N, d]
 * @param tables sin / cos [HW, d]
 * @returns [3, B, heads, N, d]
 */
export function applyRopeStacked(qkv: tf.Tensor, tables: RopeTables): tf.Tensor {
  if (qkv.rank !== 5 || qkv.shape[0] !== 3) throw new ShapeError(`applyRopeStacked: qkv must be [3, B, heads, N, d], found [${qkv.shape.join(', ')}]`);
  const n = qkv.shape[3]!;
  const d = qkv.shape[4]!;
  const hw = tables.sin.shape[0];
  const prefix = n - hw;
  if (prefix < 0) throw new ShapeError(`applyRopeStacked: ${n} tokens but the RoPE tables cover ${hw} patches`);
  if (tables.sin.shape[1] !== d) throw new ShapeError(`applyRopeStacked: head dimension ${d}, RoPE tables have ${tables.sin.shape[1]}`);
  return tf.tidy(() => {
    const extend = (t: tf.Tensor, fill: number) => (prefix === 0 ? t : tf.concat([tf.fill([prefix, d], fill), t], 0));
    const cosQk = extend(tables.cos, 1);
    const sinQk = extend(tables.sin, 0);
    const cos = tf.reshape(tf.stack([cosQk, cosQk, tf.ones([n, d])]), [3, 1, 1, n, d]);
    const sin = tf.reshape(tf.stack([sinQk, sinQk, tf.zeros([n, d])]), [3, 1, 1, n, d]);
    return tf.add(tf.mul(qkv, cos), tf.mul(rotateHalfForBackend(qkv), sin));
  });
}
