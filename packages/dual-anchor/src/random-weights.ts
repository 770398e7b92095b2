import * as tf from '@tensorflow/tfjs-core';
import { ropePeriods, type Dinov3Config, type Dinov2Config } from '@hgm/backbone';
import type { ParameterStore, Rng } from '@hgm/tensor';

/**
 * Fills a frozen backbone store with seeded random values by parameter name, so that a tiny model runs
 * without downloaded weights: norm weights 1 + 0.1 N(0, 1), biases 0.05 N(0, 1), LayerScale 0.5,
 * matrices N(0, 1/fan_in), embeddings 0.5 N(0, 1) (token table 0.5, text positions 0.2), CLIP's
 * `logit_scale` log(1/0.07), and the DINO buffers (`rope_embed.periods`, `attn.qkv.bias_mask`) computed
 * as their checkpoints hold them.
 */
export function randomizeBackboneWeights(store: ParameterStore, rng: Rng, dino?: Dinov3Config | Dinov2Config): void {
  for (const p of store.entries()) {
    const { name } = p;
    const shape = [...p.variable.shape];
    const size = p.variable.size;
    let value: Float32Array;
    if (name === 'rope_embed.periods') {
      const c = dino as Dinov3Config;
      const headDim = c.embedDim / c.numHeads;
      value = ropePeriods(headDim, c.ropeBase !== null ? { base: c.ropeBase } : { minPeriod: c.ropeMinPeriod!, maxPeriod: c.ropeMaxPeriod! });
    } else if (name.endsWith('attn.qkv.bias_mask')) {
      const d = size / 3;
      value = new Float32Array(size).fill(1);
      value.fill(0, d, 2 * d);
    } else if (name === 'logit_scale') {
      value = Float32Array.of(Math.log(1 / 0.07));
    } else if (/\.gamma$/.test(name)) {
      value = new Float32Array(size).fill(0.5);
    } else if (/(^|\.)(ln_[a-z0-9]+|ln_final|norm\d?|[a-z_]*norm)\.weight$/.test(name)) {
      value = rng.normalArray(size, 1, 0.1);
    } else if (/bias$/.test(name)) {
      value = rng.normalArray(size, 0, 0.05);
    } else if (name === 'token_embedding.weight') {
      value = rng.normalArray(size, 0, 0.5);
    } else if (name === 'positional_embedding') {
      value = rng.normalArray(size, 0, 0.2);
    } else if (/(class_embedding|cls_token|mask_token|storage_tokens|register_tokens|pos_embed|positional_embedding)$/.test(name)) {
      value = rng.normalArray(size, 0, 0.5);
    } else if (name === 'visual.proj' || name === 'text_projection') {
      value = rng.normalArray(size, 0, 1 / Math.sqrt(shape[0]!));
    } else {
      const fanIn = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : shape[0]!;
      value = rng.normalArray(size, 0, 1 / Math.sqrt(fanIn));
    }
    const t = tf.tensor(value, shape, p.variable.dtype);
    p.variable.assign(t);
    t.dispose();
  }
}
