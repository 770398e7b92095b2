import * as tf from '@tensorflow/tfjs-core';
import type { ParameterStore, Rng } from '@hgm/tensor';
import { linear } from '@hgm/nn';
import { ConfigError } from '@hgm/tensor';

/** A learnable linear map `<name>.weight` [out, in], `<name>.bias` [out]. */
export interface LinearAdapter {
  weight: tf.Variable;
  bias: tf.Variable;
}

/**
 * DINO adapters (method step 1, choice): one learnable linear map C -> D per tapped layer
 * (`adapters.patch.{i}`) and one for the global token (`adapters.global`). Initialisation as torch's
 * `nn.Linear` default: uniform(+-1/sqrt(C)) for weight and bias.
 */
export class FeatureAdapters {
  readonly patch: LinearAdapter[];
  readonly global: LinearAdapter;

  constructor(store: ParameterStore, rng: Rng, inDim: number, outDim: number, taps: number, prefix = 'adapters.') {
    const bound = 1 / Math.sqrt(inDim);
    const make = (name: string): LinearAdapter => ({
      weight: store.add(`${prefix}${name}.weight`, rng.tensorUniform([outDim, inDim], -bound, bound), { trainable: true }),
      bias: store.add(`${prefix}${name}.bias`, rng.tensorUniform([outDim], -bound, bound), { trainable: true }),
    });
    this.patch = Array.from({ length: taps }, (_, i) => make(`patch.${i}`));
    this.global = make('global');
  }

  /** Scalars: (taps + 1) (C D + D). */
  static parameterCount(inDim: number, outDim: number, taps: number): number {
    return (taps + 1) * (inDim * outDim + outDim);
  }

  /** @param tokens [B, M, C] of tap i @returns [B, M, D] */
  mapPatches(tokens: tf.Tensor3D, i: number): tf.Tensor3D {
    const a = this.patch[i];
    if (!a) throw new ConfigError(`feature adapters: no adapter for tapped layer ${i} (there are ${this.patch.length})`);
    return linear(tokens, a.weight, a.bias) as tf.Tensor3D;
  }

  /** @param token [B, C] @returns [B, D] */
  mapGlobal(token: tf.Tensor2D): tf.Tensor2D {
    return linear(token, this.global.weight, this.global.bias) as tf.Tensor2D;
  }
}
