import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@hgm/tensor';
import { ConfigError, ShapeError } from '@hgm/tensor';

/**
 * One-hot of the argmax over the LAST axis, with a straight-through gradient: the value is the hard
 * one-hot `y_hard`, the gradient is the gradient of `ySoft` (`y_hard - stopgrad(y_soft) + y_soft`).
 * Ties go to the first maximum.
 * @param ySoft [..., K] probabilities
 * @returns [..., K] exactly 0/1 values
 */
export function straightThroughOneHot(ySoft: tf.Tensor): tf.Tensor {
  const fn = (soft: tf.Tensor): { value: tf.Tensor; gradFunc: (dy: tf.Tensor) => tf.Tensor } => {
    const k = soft.shape[soft.rank - 1]!;
    const value = k === 1 ? tf.onesLike(soft) : tf.tidy(() => tf.cast(tf.oneHot(tf.argMax(soft, -1), k), 'float32'));
    return { value, gradFunc: (dy: tf.Tensor) => tf.clone(dy) };
  };
  const op = tf.customGrad(fn as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(ySoft);
}

/** How a soft assignment is turned into the assignment that is used. */
export interface AssignmentOptions {
  /** Hard one-hot with a straight-through estimator (true) or the plain softmax (false). */
  hard: boolean;
  /** Temperature tau dividing the (noisy) logits. */
  tau: number;
  /**
   * Standard Gumbel noise of the logits' shape (training only); absent at eval. Draw it with
   * `rng.tensorGumbel(shape)` so that the run is reproducible.
   */
  gumbelNoise?: tf.Tensor;
}

/** The assignment and its soft counterpart. */
export interface Assignment {
  /** [..., K] the assignment used downstream (hard one-hot with straight-through gradient, or soft). */
  assignment: tf.Tensor;
  /** [..., K] softmax((logits + noise) / tau), the distribution behind {@link assignment}. */
  soft: tf.Tensor;
}

/**
 * Assignment over the LAST axis: `soft = softmax((logits + g) / tau)`, `hard = onehot(argmax soft)` with
 * a straight-through gradient. With `gumbelNoise` absent this is GroupViT's `hard_softmax` / softmax.
 * @param logits [..., K]
 */
export function assignOverLastAxis(logits: tf.Tensor, options: AssignmentOptions): Assignment {
  if (!(options.tau > 0)) throw new ConfigError(`assignment tau: expected a positive number, found ${options.tau}`);
  const noise = options.gumbelNoise;
  if (noise && (noise.rank !== logits.rank || noise.shape.some((d, i) => d !== logits.shape[i]))) {
    throw new ShapeError(`gumbel noise: expected shape [${logits.shape.join(', ')}], found [${noise.shape.join(', ')}]`);
  }
  return tf.tidy(() => {
    let z = noise ? tf.add(logits, noise) : logits;
    if (options.tau !== 1) z = tf.div(z, options.tau);
    const soft = tf.softmax(z);
    const assignment = options.hard ? straightThroughOneHot(soft) : tf.clone(soft);
    return { assignment, soft };
  });
}

/** Standard Gumbel noise for `shape`, or undefined when no noise applies (eval mode or noise off). */
export function gumbelNoiseFor(shape: number[], enabled: boolean, rng: Rng | undefined, label: string): tf.Tensor | undefined {
  if (!enabled) return undefined;
  if (!rng) throw new ConfigError(`${label}: training with Gumbel noise needs an Rng (options.rng), found none`);
  return rng.tensorGumbel(shape);
}
