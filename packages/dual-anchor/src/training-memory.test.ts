import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { Rng } from '@hgm/tensor';
import { describeBackends, maxRelativeError } from '@hgm/tensor/testing';
import { disposeVisionFeatures } from './vision-features';
import { syntheticBatch, tinyModel } from './test-support';
import type { DualAnchorModel } from './dual-anchor-model';

/** The training loss and its gradient for every learnable parameter, by name (Gumbel noise from `seed`). */
async function lossAndGrads(model: DualAnchorModel, batch: Parameters<DualAnchorModel['trainingLoss']>[0], seed: number) {
  const rng = new Rng(seed);
  const { value, grads } = tf.variableGrads(() => model.trainingLoss(batch, { rng }).total, model.trainableVariables());
  const byName = new Map<string, Float32Array>();
  for (const p of model.params.entries()) {
    const g = grads[p.variable.name];
    if (g) byName.set(p.name, (await g.data()) as Float32Array);
  }
  const loss = (await value.data())[0]!;
  tf.dispose([value, ...Object.values(grads)]);
  return { loss, grads: byName };
}

describeBackends('the memory techniques of a training step', ({ it }) => {
  it('recomputing the frozen text tower in the backward pass gives the loss and gradients of keeping it (1e-5 relative)', async () => {
    const model = await tinyModel();
    const { pixels, masks, labels } = syntheticBatch(2, 32, 3);
    const features = model.encodeVisionSync(pixels);
    const batch = { features, masks, labels };
    model.recomputeText = false;
    const kept = await lossAndGrads(model, batch, 9);
    model.recomputeText = true;
    const before = tf.memory().numTensors;
    const recomputed = await lossAndGrads(model, batch, 9);
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
    expect(Math.abs(recomputed.loss - kept.loss)).toBeLessThan(1e-5 * Math.abs(kept.loss));
    expect([...recomputed.grads.keys()].sort()).toEqual([...kept.grads.keys()].sort());
    expect(kept.grads.size).toBeGreaterThan(20);
    for (const [name, g] of kept.grads) expect(maxRelativeError(recomputed.grads.get(name)!, g), name).toBeLessThan(1e-5);
    disposeVisionFeatures(features);
    tf.dispose([pixels, masks, labels]);
    model.dispose();
  }, 60_000);

  it("the text tower on the prompt's tokens only (usedLength) gives the embeddings and gradients of all 77 positions", async () => {
    const model = await tinyModel();
    const rng = new Rng(4);
    const anchors = tf.variable(rng.tensorNormal([2, 2, 16]) as tf.Tensor3D);
    const prompts = model.prompts(anchors);
    const eot = tf.tensor1d(prompts.eotIndices, 'int32');
    const used = Math.max(...prompts.eotIndices) + 1;
    expect(used).toBeLessThan(77);
    const run = async (usedLength?: number) => {
      const embeddings = prompts.embeddings;
      const input = { tokenEmbeddings: embeddings, eotIndices: eot, compoundPrompts: prompts.deepTokens, ...(usedLength ? { usedLength } : {}) };
      const value = model.frozen.text.forward(input).textEmbeds;
      const out = (await value.data()) as Float32Array;
      value.dispose();
      const grads = tf.grads((e: tf.Tensor, ...deep: tf.Tensor[]) =>
        tf.sum(tf.square(model.frozen.text.forward({ ...input, tokenEmbeddings: e as tf.Tensor3D, compoundPrompts: deep as tf.Tensor2D[] }).textEmbeds)),
      )([embeddings, ...prompts.deepTokens]);
      const values = await Promise.all(grads.map(async (g) => (await g.data()) as Float32Array));
      tf.dispose(grads);
      return { out, values };
    };
    const all = await run();
    const short = await run(used);
    expect(maxRelativeError(short.out, all.out)).toBeLessThan(1e-5);
    short.values.forEach((g, i) => expect(maxRelativeError(g, all.values[i]!)).toBeLessThan(1e-5));
    expect(() => model.frozen.text.forward({ tokenEmbeddings: prompts.embeddings, eotIndices: eot, usedLength: 78 })).toThrow(
      /usedLength must be an integer in/,
    );
    tf.dispose([anchors, eot, prompts.embeddings, ...prompts.deepTokens]);
    model.dispose();
  }, 60_000);
});
