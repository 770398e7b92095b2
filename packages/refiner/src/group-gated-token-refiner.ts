import * as tf from '@tensorflow/tfjs-core';
import { joinName, type ParameterStore, type Rng } from '@hgm/tensor';
import { layerNorm, linear } from '@hgm/nn';
import { resolveGroupGatedTokenRefinerConfig, type GroupGatedTokenRefinerConfig } from './config';
import { ShapeError, disposeOwned } from '@hgm/tensor';

/** Output of {@link GroupGatedTokenRefiner.forward}. */
export interface GroupGatedTokenRefinerOutput {
  /** [B, D] t_ref, the refined global token. */
  refinedCls: tf.Tensor2D;
  /** [B, 2] [w_n, w_a] = [cos(t_cls, G_N), cos(t_cls, G_A)]. */
  anchorSimilarity: tf.Tensor2D;
  /** [B, D] sigmoid(Linear(LayerNorm([w_n, w_a]))). */
  gate: tf.Tensor2D;
}

/** Construction options. */
export interface GroupGatedTokenRefinerInit {
  /** State-dict prefix (e.g. 'refiner'); '' for none. */
  prefix: string;
  /** Seeded initialisation. */
  rng: Rng;
}

/**
 * Group-Gated Token Refiner (GGTR): w_n = cos(t_cls, G_N), w_a = cos(t_cls, G_A) per image;
 * z = Linear_{2 -> D}(LayerNorm([w_n, w_a])); t_ref = t_cls + sigmoid(z) (additive, default) or
 * t_cls * (1 + sigmoid(z)) (multiplicative variant).
 *
 * Parameters under `<prefix>`: `norm.weight`, `norm.bias` [2] (ones, zeros), `gate.weight` [D, 2]
 * (trunc-normal std {@link GroupGatedTokenRefinerConfig.weightInitStd}), `gate.bias` [D] (zeros).
 *
 * Note: a LayerNorm over two values maps [w_n, w_a] to about +-[1, -1] * sign(w_n - w_a) (times the affine
 * weight, plus the bias) once |w_n - w_a| >> sqrt(eps); this is the paper's formula, kept as stated.
 */
export class GroupGatedTokenRefiner {
  readonly config: GroupGatedTokenRefinerConfig;
  private readonly normWeight: tf.Variable;
  private readonly normBias: tf.Variable;
  private readonly gateWeight: tf.Variable;
  private readonly gateBias: tf.Variable;

  constructor(store: ParameterStore, config: Partial<GroupGatedTokenRefinerConfig>, init: GroupGatedTokenRefinerInit) {
    const c = resolveGroupGatedTokenRefinerConfig(config);
    this.config = c;
    const n = (name: string): string => joinName(init.prefix, name);
    this.normWeight = store.add(n('norm.weight'), tf.ones([2]), { trainable: true });
    this.normBias = store.add(n('norm.bias'), tf.zeros([2]), { trainable: true });
    this.gateWeight = store.add(n('gate.weight'), init.rng.tensorTruncatedNormal([c.dim, 2], 0, c.weightInitStd), { trainable: true });
    this.gateBias = store.add(n('gate.bias'), tf.zeros([c.dim]), { trainable: true });
  }

  /**
   * @param globalToken [B, D] t_cls (mapped to D)
   * @param imageAnchors [B, 2, D] [G_N, G_A] from group merging
   */
  forward(globalToken: tf.Tensor, imageAnchors: tf.Tensor): GroupGatedTokenRefinerOutput {
    const c = this.config;
    if (globalToken.rank !== 2 || globalToken.shape[1] !== c.dim) {
      throw new ShapeError(`token refiner globalToken: expected shape [B, ${c.dim}], found [${globalToken.shape.join(', ')}]`);
    }
    const b = globalToken.shape[0]!;
    if (imageAnchors.rank !== 3 || imageAnchors.shape[0] !== b || imageAnchors.shape[1] !== 2 || imageAnchors.shape[2] !== c.dim) {
      throw new ShapeError(`token refiner imageAnchors: expected shape [${b}, 2, ${c.dim}], found [${imageAnchors.shape.join(', ')}]`);
    }
    const [refinedCls, anchorSimilarity, gate] = tf.tidy(() => {
      const t = tf.expandDims(globalToken, 1); // [B, 1, D]
      const dot = tf.sum(tf.mul(t, imageAnchors), -1); // [B, 2]
      const tNorm = tf.maximum(tf.norm(globalToken, 'euclidean', -1, true), c.cosineEps); // [B, 1]
      const aNorm = tf.maximum(tf.norm(imageAnchors, 'euclidean', -1), c.cosineEps); // [B, 2]
      const anchorSimilarity = tf.div(dot, tf.mul(tNorm, aNorm));
      const z = linear(layerNorm(anchorSimilarity, this.normWeight, this.normBias, c.layerNormEps), this.gateWeight, this.gateBias);
      const gate = tf.sigmoid(z);
      const refinedCls = c.gate === 'additive' ? tf.add(globalToken, gate) : tf.mul(globalToken, tf.add(1, gate));
      return [refinedCls, anchorSimilarity, gate];
    }) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    return { refinedCls, anchorSimilarity, gate };
  }
}

/** Disposes every tensor of a {@link GroupGatedTokenRefinerOutput}. */
export function disposeGroupGatedTokenRefinerOutput(out: GroupGatedTokenRefinerOutput): void {
  disposeOwned(out);
}
