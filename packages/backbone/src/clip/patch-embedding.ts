import * as tf from '@tensorflow/tfjs-core';
import { linear } from '@hgm/nn';
import { ShapeError } from '@hgm/tensor';

/**
 * A ViT patch embedding without bias (`Conv2d(3, W, kernel=p, stride=p, bias=False)`), done as a
 * reshape and one matmul so that it reads NCHW input directly on every backend.
 *
 * @param pixels [B, C, H, W] with H and W multiples of p
 * @param weight torch conv weight [width, C, p, p]
 * @returns tokens [B, gridH * gridW, width], row-major (y, x), and the grid
 */
export function patchEmbedding(pixels: tf.Tensor4D, weight: tf.Tensor4D): { tokens: tf.Tensor3D; grid: [number, number] } {
  const [b, c, h, w] = pixels.shape;
  const [width, wc, p, p2] = weight.shape;
  if (wc !== c || p !== p2) throw new ShapeError(`patchEmbedding: weight [${weight.shape.join(', ')}] does not fit pixels [${pixels.shape.join(', ')}]`);
  if (h % p !== 0 || w % p !== 0) throw new ShapeError(`patchEmbedding: image ${h}x${w} is not a multiple of the patch size ${p}`);
  const gh = h / p;
  const gw = w / p;
  const tokens = tf.tidy(() => {
    // [B, C, gh, p, gw, p] -> [B*C*gh, p, gw, p] -> [B*C*gh, gw, p, p] = [B, C, gh*gw, p*p]
    const a = tf.transpose(tf.reshape(pixels, [b * c * gh, p, gw, p]), [0, 2, 1, 3]);
    // -> [B, gh*gw, C, p*p] -> [B*gh*gw, C*p*p] (column order c, py, px as the conv weight)
    const patches = tf.reshape(tf.transpose(tf.reshape(a, [b, c, gh * gw, p * p]), [0, 2, 1, 3]), [b * gh * gw, c * p * p]);
    const y = linear(patches, tf.reshape(weight, [width, c * p * p]));
    return tf.reshape(y, [b, gh * gw, width]) as tf.Tensor3D;
  });
  return { tokens, grid: [gh, gw] };
}
