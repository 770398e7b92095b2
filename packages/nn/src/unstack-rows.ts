import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@hgm/tensor';
import { oneHotRow } from './wasm-gradients';

/**
 * Row `i` of a matrix, `x[i:i+1]`. On the wasm backend (tfjs 4.22) it is the product of a one-hot row
 * with x: the Slice kernel there (and Unpack / SplitV, built on it) copies the whole input back from the
 * heap into a new JavaScript buffer for every slice, and Gather costs tens of nanoseconds per element,
 * while XNNPACK packs x once (cached for as long as x lives) and then reads each row in a fraction of a
 * millisecond. Exact for finite values (the other rows are multiplied by zero). Other backends use
 * `tf.slice`. Differentiable.
 *
 * @param x [n, L]
 * @param i row index in [0, n)
 * @returns [1, L]
 */
export function gatherRow(x: tf.Tensor, i: number): tf.Tensor2D {
  if (x.rank !== 2)
    throw new ShapeError(`gatherRow: x must be a matrix [n, L], found shape [${x.shape.join(', ')}]`, {
      input: 'x',
      expected: '[n, L]',
      found: `[${x.shape.join(', ')}]`,
    });
  const [n, l] = x.shape as [number, number];
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new ConfigError(`gatherRow: row ${i} is outside [0, ${n - 1}]`);
  if (tf.getBackend() !== 'wasm') return tf.slice(x, [i, 0], [1, l]) as tf.Tensor2D;
  if (n === 1) return tf.clone(x) as tf.Tensor2D;
  return oneHotRow(x as tf.Tensor2D, i);
}

/**
 * `tf.unstack(x)` along the first axis, each row taken with {@link gatherRow} (no slices on wasm).
 * Other backends use `tf.unstack`. Exact for finite values.
 *
 * @param x [n, ...rest]
 * @returns n tensors [...rest]
 */
export function unstackRows(x: tf.Tensor): tf.Tensor[] {
  if (x.rank < 1) throw new ShapeError('unstackRows: x must have at least one axis, found a scalar', { input: 'x', expected: 'rank >= 1', found: '[]' });
  if (tf.getBackend() !== 'wasm') return tf.unstack(x);
  const [n, ...rest] = x.shape as number[];
  return tf.tidy(() => {
    const flat = tf.reshape(x, [n!, -1]);
    return Array.from({ length: n! }, (_, i) => tf.reshape(gatherRow(flat, i), rest));
  });
}
