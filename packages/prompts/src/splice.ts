import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@hgm/tensor';

/**
 * Concatenates sequence segments along the token axis, broadcasting segments that are shared by every
 * row (batch 1) to the batch size. This is how learnable tokens are spliced between fixed token embeddings.
 *
 * @param segments each [1 or N, n_i, Dt] (a [n_i, Dt] segment counts as shared)
 * @param batch N
 * @returns [N, sum n_i, Dt]
 */
export function spliceSequence(segments: readonly tf.Tensor[], batch: number): tf.Tensor3D {
  if (segments.length === 0) throw new ConfigError('spliceSequence: no segment given');
  return tf.tidy(() => {
    const width = segments[0]!.shape[segments[0]!.rank - 1]!;
    const parts = segments.map((s, i) => {
      const s3 = s.rank === 2 ? tf.expandDims(s, 0) : s;
      if (s3.rank !== 3) throw new ShapeError(`spliceSequence: segment ${i} has rank ${s.rank}, expected 2 or 3`);
      if (s3.shape[2] !== width) throw new ShapeError(`spliceSequence: segment ${i} has width ${s3.shape[2]}, expected ${width}`);
      const n = s3.shape[0]!;
      if (n === batch) return s3;
      if (n === 1) return tf.tile(s3, [batch, 1, 1]);
      throw new ShapeError(`spliceSequence: segment ${i} has batch ${n}, expected 1 or ${batch}`);
    });
    return tf.concat(parts, 1) as tf.Tensor3D;
  });
}
