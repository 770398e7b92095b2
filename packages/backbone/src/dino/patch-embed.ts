import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@hgm/tensor';

/**
 * Checks that `pixels` is [B, inChans, H, W] with H and W positive multiples of the patch size.
 * @returns the patch grid [gridH, gridW]
 */
export function patchGrid(pixels: tf.Tensor, inChans: number, patchSize: number, who: string): [number, number] {
  if (pixels.rank !== 4) throw new ShapeError(`${who}: pixels must be [B, ${inChans}, H, W], found shape [${pixels.shape.join(', ')}]`);
  const [, c, h, w] = pixels.shape as [number, number, number, number];
  if (c !== inChans) throw new ShapeError(`${who}: pixels must have ${inChans} channels (NCHW), found shape [${pixels.shape.join(', ')}]`);
  if (h < patchSize || w < patchSize || h % patchSize !== 0 || w % patchSize !== 0) {
    throw new ConfigError(`${who}: image size ${h} x ${w} must be a positive multiple of the patch size ${patchSize}`);
  }
  return [h / patchSize, w / patchSize];
}

/**
 * The reference's `PatchEmbed`: a conv with kernel = stride = patch size, flattened row-major over the grid.
 * @param pixels [B, C, H, W] (H, W multiples of the patch size)
 * @param weight [D, C, p, p] (PyTorch conv layout)
 * @param bias [D]
 * @returns [B, gridH * gridW, D]
 */
export function patchEmbed(pixels: tf.Tensor4D, weight: tf.Tensor, bias: tf.Tensor | undefined, patchSize: number): tf.Tensor3D {
  return tf.tidy(() => {
    const [b, , h, w] = pixels.shape;
    const d = weight.shape[0]!;
    const nhwc = tf.transpose(pixels, [0, 2, 3, 1]) as tf.Tensor4D;
    const filter = tf.transpose(weight, [2, 3, 1, 0]) as tf.Tensor4D;
    let y: tf.Tensor = tf.conv2d(nhwc, filter, patchSize, 'valid');
    if (bias) y = tf.add(y, bias);
    return tf.reshape(y, [b, (h / patchSize) * (w / patchSize), d]) as tf.Tensor3D;
  });
}
