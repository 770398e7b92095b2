import * as tf from '@tensorflow/tfjs-core';
import { expect, vi } from 'vitest';
import { describeBackends, expectNoLeak } from '@hgm/tensor/testing';
import { disposeDualAnchorOutput, type DualAnchorModel } from './dual-anchor-model';
import type { DualAnchorConfigInput } from './config';
import { disposeVisionFeatures, type VisionFeatures } from './vision-features';
import { syntheticBatch, tinyModel } from './test-support';

/** Every output value that an evaluation reads, on the host. */
async function outputs(model: DualAnchorModel, features: VisionFeatures): Promise<Float32Array[]> {
  const out = model.forwardFromFeatures(features);
  try {
    return (await Promise.all([
      out.anomalyMap.data(),
      out.rawAnomalyMap.data(),
      out.imageScore.data(),
      out.imageProbabilities.data(),
      out.textFeatures.data(),
    ])) as Float32Array[];
  } finally {
    disposeDualAnchorOutput(out);
  }
}

/** The same forward with the text tower run for it (as every forward did before the text anchors were kept). */
async function uncached(model: DualAnchorModel, features: VisionFeatures): Promise<Float32Array[]> {
  model.dropTextCache();
  return outputs(model, features);
}

function featureBatches(model: DualAnchorModel, count: number, batch: number): VisionFeatures[] {
  return Array.from({ length: count }, (_, i) => {
    const { pixels, masks, labels } = syntheticBatch(batch, 32, 20 + i);
    const f = model.encodeVisionSync(pixels);
    tf.dispose([pixels, masks, labels]);
    return f;
  });
}

describeBackends(
  'DualAnchorModel text anchors at inference',
  ({ it }) => {
    const inputIndependent: [string, DualAnchorConfigInput][] = [
      ['AnomalyCLIP baseline (static prompts)', { modules: { hgm: false, refiner: false, dsp: false } }],
      ['Dual-Anchor without DSP (static prompts)', { modules: { dsp: false } }],
      ['DSP on the learnable anchors (HGM off)', { modules: { hgm: false } }],
    ];
    for (const [name, overrides] of inputIndependent) {
      it(`${name}: the text tower runs once for several batches, with bit-identical outputs`, async () => {
        const model = await tinyModel(overrides);
        expect(model.textIsInputIndependent).toBe(true);
        const batches = featureBatches(model, 3, 2);
        const reference = [];
        for (const f of batches) reference.push(await uncached(model, f));
        model.dropTextCache();
        const spy = vi.spyOn(model.frozen.text, 'forward');
        const cached = [];
        for (const f of batches) cached.push(await outputs(model, f));
        expect(spy).toHaveBeenCalledTimes(1);
        for (let i = 0; i < batches.length; i++) {
          for (let k = 0; k < cached[i]!.length; k++) expect(Array.from(cached[i]![k]!), `batch ${i} output ${k}`).toEqual(Array.from(reference[i]![k]!));
        }
        spy.mockRestore();
        batches.forEach(disposeVisionFeatures);
        model.dispose();
      }, 60_000);
    }

    it('recomputes after a parameter changes (optimiser step, loaded checkpoint) and never under a gradient tape', async () => {
      const model = await tinyModel({ modules: { hgm: false, refiner: false, dsp: false } });
      const [features] = featureBatches(model, 1, 2) as [VisionFeatures];
      const spy = vi.spyOn(model.frozen.text, 'forward');
      const first = await outputs(model, features);
      await outputs(model, features);
      expect(spy).toHaveBeenCalledTimes(1);

      // a gradient tape sees the text tower (the prompt tokens must receive gradients) and leaves the kept anchors alone
      const ctx = model.params.get('prompt_learner.ctx_pos');
      const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.sum(model.forwardFromFeatures(features).imageScore) as tf.Scalar), [ctx]);
      expect(spy).toHaveBeenCalledTimes(2);
      expect(Math.max(...Array.from(await tf.abs(grads[ctx.name]!).data()))).toBeGreaterThan(0);
      await outputs(model, features);
      expect(spy).toHaveBeenCalledTimes(2);

      // an optimiser-style update assigns new data: the next inference forward runs the tower again
      ctx.assign(tf.tidy(() => tf.sub(ctx, tf.mul(grads[ctx.name]!, 10))));
      tf.dispose([value, ...Object.values(grads)]);
      const afterStep = await outputs(model, features);
      expect(spy).toHaveBeenCalledTimes(3);
      expect(Array.from(afterStep[4]!)).not.toEqual(Array.from(first[4]!));
      expect(afterStep.map((a) => Array.from(a))).toEqual((await uncached(model, features)).map((a) => Array.from(a)));

      // loading a checkpoint replaces the values too
      const other = await tinyModel({ modules: { hgm: false, refiner: false, dsp: false }, seed: 3 });
      await outputs(model, features);
      const calls = spy.mock.calls.length;
      await model.loadTrainable(await other.saveTrainable(), 'other.safetensors');
      const loaded = await outputs(model, features);
      expect(spy).toHaveBeenCalledTimes(calls + 1);
      expect(loaded.map((a) => Array.from(a))).toEqual((await outputs(other, features)).map((a) => Array.from(a)));
      spy.mockRestore();
      disposeVisionFeatures(features);
      other.dispose();
      model.dispose();
    }, 60_000);

    it('with DSP on image group tokens runs the text tower on every forward', async () => {
      const model = await tinyModel();
      expect(model.textIsInputIndependent).toBe(false);
      const batches = featureBatches(model, 2, 2);
      const spy = vi.spyOn(model.frozen.text, 'forward');
      for (const f of batches) await outputs(model, f);
      expect(spy).toHaveBeenCalledTimes(2);
      spy.mockRestore();
      batches.forEach(disposeVisionFeatures);
      model.dispose();
    }, 60_000);

    it('keeps one text tensor while in use and frees it with the model', async () => {
      const before = tf.memory().numTensors;
      const model = await tinyModel({ modules: { hgm: false } });
      const [a, b] = featureBatches(model, 2, 2) as [VisionFeatures, VisionFeatures];
      const [c] = featureBatches(model, 1, 3) as [VisionFeatures];
      // DSP on the learnable anchors: kept per batch size; switching sizes replaces the kept tensor
      await expectNoLeak(() => disposeDualAnchorOutput(model.forwardFromFeatures(a)), { name: 'inference forward' });
      await expectNoLeak(
        async () => {
          disposeDualAnchorOutput(model.forwardFromFeatures(b));
          disposeDualAnchorOutput(model.forwardFromFeatures(c));
        },
        { name: 'inference forwards of two batch sizes' },
      );
      [a, b, c].forEach(disposeVisionFeatures);
      model.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }, 60_000);
  },
  { backends: ['cpu'] },
);
