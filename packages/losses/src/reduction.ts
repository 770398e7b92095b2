import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '@hgm/tensor';

/** How a loss over many elements is reduced: mean and sum give a scalar, none keeps the elements. */
export type Reduction = 'mean' | 'sum' | 'none';

export const REDUCTIONS: readonly Reduction[] = ['mean', 'sum', 'none'];

/** Throws unless `value` is one of the reductions. */
export function checkReduction(where: string, value: unknown): Reduction {
  if (!REDUCTIONS.includes(value as Reduction)) {
    throw new ConfigError(`${where}: reduction must be one of ${REDUCTIONS.join(', ')}, found ${JSON.stringify(value)}`);
  }
  return value as Reduction;
}

/** Applies a reduction to element-wise losses (to be called inside a `tf.tidy`). */
export function reduceLoss(elementLoss: tf.Tensor, reduction: Reduction): tf.Tensor {
  if (reduction === 'mean') return tf.mean(elementLoss);
  if (reduction === 'sum') return tf.sum(elementLoss);
  return elementLoss;
}
