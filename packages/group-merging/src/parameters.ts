import * as tf from '@tensorflow/tfjs-core';
import type { ParameterStore, Rng } from '@hgm/tensor';
import { ConfigError, ShapeError } from '@hgm/tensor';

/** The variables of one `nn.Linear`-style layer (PyTorch layout: weight [out, in]). */
export interface LinearParameters {
  weight: tf.Variable;
  bias: tf.Variable | undefined;
}

/** The variables of one LayerNorm. */
export interface LayerNormParameters {
  weight: tf.Variable;
  bias: tf.Variable;
}

/** Weight initialisation of the learnable layers: trunc-normal(0, std) weights, zero biases (timm / GroupViT). */
export interface InitOptions {
  /** Standard deviation of the truncated-normal weights (bounds +-2 std). Default 0.02. */
  std?: number;
  /** Whether the layer has a bias. Default true. */
  bias?: boolean;
}

/**
 * Registers a trainable linear layer `<name>.weight` [out, in] and `<name>.bias` [out] in the store.
 */
export function addLinear(store: ParameterStore, name: string, inDim: number, outDim: number, rng: Rng, options: InitOptions = {}): LinearParameters {
  const std = options.std ?? 0.02;
  const weight = store.add(`${name}.weight`, rng.tensorTruncatedNormal([outDim, inDim], 0, std), { trainable: true });
  const bias = (options.bias ?? true) ? store.add(`${name}.bias`, tf.zeros([outDim]), { trainable: true }) : undefined;
  return { weight, bias };
}

/** Registers a trainable LayerNorm `<name>.weight` (ones) and `<name>.bias` (zeros), both [dim]. */
export function addLayerNorm(store: ParameterStore, name: string, dim: number): LayerNormParameters {
  return {
    weight: store.add(`${name}.weight`, tf.ones([dim]), { trainable: true }),
    bias: store.add(`${name}.bias`, tf.zeros([dim]), { trainable: true }),
  };
}

/** Throws unless `value` is a positive integer. */
export function checkPositiveInteger(label: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new ConfigError(`${label}: expected a positive integer, found ${JSON.stringify(value)}`);
  }
  return value;
}

/** Throws unless `t` is a rank-3 tensor with the given known sizes (undefined = any). */
export function checkShape(label: string, t: tf.Tensor, expected: (number | undefined)[]): void {
  const ok = t.rank === expected.length && expected.every((d, i) => d === undefined || d === t.shape[i]);
  if (!ok) {
    const want = expected.map((d) => (d === undefined ? '*' : String(d))).join(', ');
    throw new ShapeError(`${label}: expected shape [${want}], found [${t.shape.join(', ')}]`);
  }
}

/** `tf.tidy` for a function returning a typed object of tensors (kept, everything else disposed). */
export function tidyObject<T>(fn: () => T): T {
  return tf.tidy(() => fn() as unknown as tf.TensorContainer) as unknown as T;
}
