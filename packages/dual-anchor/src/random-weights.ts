import * as tf from '@tensorflow/tfjs-core';
import { randomFrozenValue, type Dinov3Config, type Dinov2Config } from '@hgm/backbone';
import type { ParameterStore, Rng } from '@hgm/tensor';

/**
 * Fills a frozen backbone store with seeded random values by parameter name (`randomFrozenValue` of
 * `@hgm/backbone`: the rules of `hgm weights random`), so that a model runs without downloaded weights.
 */
export function randomizeBackboneWeights(store: ParameterStore, rng: Rng, dino?: Dinov3Config | Dinov2Config): void {
  for (const p of store.entries()) {
    const shape = [...p.variable.shape];
    const t = tf.tensor(randomFrozenValue(p.name, shape, rng, dino), shape, p.variable.dtype);
    p.variable.assign(t);
    t.dispose();
  }
}
