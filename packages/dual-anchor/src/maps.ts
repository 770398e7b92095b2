import * as tf from '@tensorflow/tfjs-core';
import { bilinearResizeMatrix, matMulTransposedB } from '@hgm/nn';
import { ConfigError, ShapeError } from '@hgm/tensor';

/**
 * Applies a linear map along each of the last two axes: out[n] = A x[n] B^T. Bilinear resizing and
 * separable blurs are such maps; as two matrix products they are exact, differentiable and run on every
 * backend.
 * @param x [N, h, w]
 * @param rows A [H, h]
 * @param cols B [W, w]
 * @returns [N, H, W]
 */
export function separableLinear(x: tf.Tensor3D, rows: tf.Tensor2D, cols: tf.Tensor2D): tf.Tensor3D {
  const [n, h, w] = x.shape;
  if (rows.shape[1] !== h || cols.shape[1] !== w) {
    throw new ShapeError(
      `separableLinear: x is [${x.shape.join(', ')}], row matrix [${rows.shape.join(', ')}], column matrix [${cols.shape.join(', ')}]; expected [H, ${h}] and [W, ${w}]`,
    );
  }
  const outH = rows.shape[0];
  const outW = cols.shape[0];
  return tf.tidy(() => {
    const alongW = tf.reshape(matMulTransposedB(tf.reshape(x, [n * h, w]) as tf.Tensor2D, cols), [n, h, outW]);
    const t = tf.reshape(tf.transpose(alongW, [0, 2, 1]), [n * outW, h]);
    const alongH = tf.reshape(matMulTransposedB(t as tf.Tensor2D, rows), [n, outW, outH]);
    return tf.transpose(alongH, [0, 2, 1]) as tf.Tensor3D;
  });
}

/** torch `F.interpolate(mode='bilinear', align_corners=False)` along one axis as a matrix [outSize, inSize]. */
export function bilinearMatrix(inSize: number, outSize: number): tf.Tensor2D {
  return tf.tensor2d(Float32Array.from(bilinearResizeMatrix(inSize, outSize)), [outSize, inSize]);
}

/** scipy.ndimage's 1-D Gaussian weights: radius `int(truncate * sigma + 0.5)`, normalised to sum 1. */
export function gaussianKernel1d(sigma: number, truncate = 4): Float64Array {
  if (!(sigma > 0)) throw new ConfigError(`gaussianKernel1d: sigma must be > 0, found ${sigma}`);
  if (!(truncate > 0)) throw new ConfigError(`gaussianKernel1d: truncate must be > 0, found ${truncate}`);
  const radius = Math.floor(truncate * sigma + 0.5);
  const k = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let t = -radius; t <= radius; t++) {
    const v = Math.exp((-0.5 * t * t) / (sigma * sigma));
    k[t + radius] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i]! /= sum;
  return k;
}

/** scipy's 'reflect' boundary (d c b a | a b c d | d c b a) for an index outside [0, n). */
export function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n;
  let j = ((i % period) + period) % period;
  if (j >= n) j = period - 1 - j;
  return j;
}

/**
 * The matrix [n, n] of scipy `gaussian_filter1d(mode='reflect', truncate)` on a signal of length n
 * (kernels wider than the signal reflect again, as scipy does).
 */
export function gaussianBlurMatrix(n: number, sigma: number, truncate = 4): tf.Tensor2D {
  const k = gaussianKernel1d(sigma, truncate);
  const radius = (k.length - 1) / 2;
  const m = new Float64Array(n * n);
  for (let o = 0; o < n; o++) for (let t = -radius; t <= radius; t++) m[o * n + reflectIndex(o + t, n)]! += k[t + radius]!;
  return tf.tensor2d(Float32Array.from(m), [n, n]);
}

/**
 * scipy `gaussian_filter(map, sigma, mode='reflect', truncate)` applied to each image of a batch (test-time
 * smoothing of AnomalyCLIP and of the method): separable, a (2r + 1)-tap pass per axis on the reflect-padded
 * map (r = int(truncate * sigma + 0.5)); maps narrower than r use the dense reflect matrices.
 * @param maps [B, H, W]
 * @returns [B, H, W]
 */
export function gaussianBlur(maps: tf.Tensor3D, sigma: number, truncate = 4): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, h, w] = maps.shape;
    const k = gaussianKernel1d(sigma, truncate);
    const radius = (k.length - 1) / 2;
    if (radius >= Math.min(h, w)) {
      // a kernel wider than the map reflects more than once: the dense matrices handle that
      const rows = gaussianBlurMatrix(h, sigma, truncate);
      const cols = w === h ? rows : gaussianBlurMatrix(w, sigma, truncate);
      return separableLinear(maps, rows, cols);
    }
    // scipy's 'reflect' is tf's 'symmetric' padding (d c b a | a b c d); then one 1-D pass per axis, each
    // output a (2r + 1)-tap sum instead of a dense n-term product
    const kernel = Float32Array.from(k);
    const padded = tf.mirrorPad(
      tf.reshape(maps, [b, h, w, 1]),
      [
        [0, 0],
        [radius, radius],
        [radius, radius],
        [0, 0],
      ],
      'symmetric',
    ) as tf.Tensor4D;
    const alongH = tf.conv2d(padded, tf.tensor4d(kernel, [k.length, 1, 1, 1]), 1, 'valid');
    const alongW = tf.conv2d(alongH, tf.tensor4d(kernel, [1, k.length, 1, 1]), 1, 'valid');
    return tf.reshape(alongW, [b, h, w]) as tf.Tensor3D;
  });
}

/**
 * Bilinear upsampling of channels-last grids to the input size (align_corners=False).
 * @param grid [B, gh, gw, C]
 * @returns [B, H, W, C]
 */
export function upsampleBilinear(grid: tf.Tensor4D, size: readonly [number, number]): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, gh, gw, c] = grid.shape;
    const [h, w] = size;
    const channelsFirst = tf.reshape(tf.transpose(grid, [0, 3, 1, 2]), [b * c, gh, gw]) as tf.Tensor3D;
    const up = separableLinear(channelsFirst, bilinearMatrix(gh, h), bilinearMatrix(gw, w));
    return tf.transpose(tf.reshape(up, [b, c, h, w]), [0, 2, 3, 1]) as tf.Tensor4D;
  });
}

/** L2-normalises the last axis (torch `x / x.norm(dim=-1, keepdim=True)`). */
export function l2Normalize(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.div(x, tf.sqrt(tf.sum(tf.square(x), -1, true))));
}

/**
 * Cosine-similarity logits between tokens and the two state anchors, divided by the temperature.
 * @param tokens [B, N, D] (any norm)
 * @param textFeatures [B or 1, 2, D] unit-normalised (normal, anomalous)
 * @returns [B, N, 2]
 */
export function stateLogits(tokens: tf.Tensor3D, textFeatures: tf.Tensor3D, temperature: number): tf.Tensor3D {
  return tf.tidy(() => {
    const b = tokens.shape[0];
    const t = textFeatures.shape[0] === b ? textFeatures : tf.tile(textFeatures, [b, 1, 1]);
    return tf.div(matMulTransposedB(l2Normalize(tokens), t), temperature) as tf.Tensor3D;
  });
}

/** The anomaly map of one probability map: (A_a + 1 - A_n) / 2. @param probs [B, H, W, 2] @returns [B, H, W] */
export function anomalyFromProbabilities(probs: tf.Tensor4D): tf.Tensor3D {
  return tf.tidy(() => {
    // (a - n + 1) / 2 as one product with [-1/2, 1/2] over the last axis: an unstack copies the whole input
    // per slice (87 ms against 3 ms at 512 x 512 on wasm)
    const [b, h, w] = probs.shape;
    const weights = tf.tensor2d([[-0.5], [0.5]]);
    return tf.reshape(tf.add(tf.matMul(tf.reshape(probs, [b * h * w, 2]), weights), 0.5), [b, h, w]) as tf.Tensor3D;
  });
}
