import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { describeBackends, expectNoLeak } from '@hgm/tensor/testing';
import { disposeDualAnchorOutput, type DualAnchorModel, type TextTowerExecutor } from './dual-anchor-model';
import type { DualAnchorConfigInput } from './config';
import { disposeVisionFeatures, type VisionFeatures } from './vision-features';
import { syntheticBatch, tinyModel } from './test-support';

/** The tfjs tower behind the executor interface, awaited, counting its calls. */
function tfjsExecutor(model: DualAnchorModel): TextTowerExecutor & { calls: number } {
  const executor = {
    calls: 0,
    async encode(input: Parameters<TextTowerExecutor['encode']>[0]): Promise<tf.Tensor2D> {
      executor.calls++;
      await new Promise((r) => setTimeout(r, 1));
      return tf.tidy(() => {
        const eot = tf.tensor1d([...input.eotIndices], 'int32');
        return model.frozen.text.forward({ tokenEmbeddings: input.tokenEmbeddings, eotIndices: eot, compoundPrompts: input.compoundPrompts ?? [] }).textEmbeds;
      });
    },
  };
  return executor;
}

async function values(out: ReturnType<DualAnchorModel['forwardFromFeatures']>): Promise<number[][]> {
  const read = [out.anomalyMap, out.rawAnomalyMap, out.imageScore, out.imageProbabilities, out.textFeatures, out.refinedCls];
  return (await Promise.all(read.map((t) => t.data()))).map((d) => Array.from(d as Float32Array));
}

describeBackends(
  'DualAnchorModel.predictFromFeatures with a text executor',
  ({ it }) => {
    const cases: [string, DualAnchorConfigInput, number][] = [
      // DSP on HGM's group tokens: the tower runs per batch
      ['Dual-Anchor (DSP per image)', {}, 2],
      // static prompts with compound tokens: once, then kept
      ['AnomalyCLIP baseline (static prompts)', { modules: { hgm: false, refiner: false, dsp: false } }, 1],
    ];
    for (const [name, overrides, calls] of cases) {
      it(`${name}: the outputs of forwardFromFeatures, the tower called ${calls === 1 ? 'once' : 'per batch'}, nothing leaked`, async () => {
        const model = await tinyModel(overrides);
        const batches: VisionFeatures[] = [1, 2].map((i) => {
          const { pixels, masks, labels } = syntheticBatch(2, 32, 30 + i);
          const f = model.encodeVisionSync(pixels);
          tf.dispose([pixels, masks, labels]);
          return f;
        });
        try {
          const reference: number[][][] = [];
          for (const f of batches) {
            const out = model.forwardFromFeatures(f);
            reference.push(await values(out));
            disposeDualAnchorOutput(out);
          }
          const executor = tfjsExecutor(model);
          model.useTextExecutor(executor);
          expect(model.textTowerExecutor).toBe(executor);
          for (let i = 0; i < batches.length; i++) {
            const out = await model.predictFromFeatures(batches[i]!);
            const got = await values(out);
            disposeDualAnchorOutput(out);
            got.forEach((v, k) => v.forEach((x, j) => expect(Math.abs(x - reference[i]![k]![j]!), `batch ${i} output ${k}[${j}]`).toBeLessThan(1e-5)));
          }
          expect(executor.calls).toBe(calls);
          await expectNoLeak(async () => disposeDualAnchorOutput(await model.predictFromFeatures(batches[0]!)), { name: 'predictFromFeatures' });
          model.useTextExecutor(null);
          const back = await model.predictFromFeatures(batches[0]!);
          expect(await values(back)).toEqual(reference[0]);
          disposeDualAnchorOutput(back);
        } finally {
          batches.forEach(disposeVisionFeatures);
          model.dispose();
        }
      }, 60_000);
    }

    it('an executor that fails leaves no tensor behind and the error names it', async () => {
      const model = await tinyModel();
      const { pixels, masks, labels } = syntheticBatch(1, 32, 40);
      const f = model.encodeVisionSync(pixels);
      tf.dispose([pixels, masks, labels]);
      try {
        model.useTextExecutor({ encode: async () => Promise.reject(new Error('text executor: gone')) });
        const before = tf.memory().numTensors;
        await expect(model.predictFromFeatures(f)).rejects.toThrow('text executor: gone');
        expect(tf.memory().numTensors).toBe(before);
      } finally {
        disposeVisionFeatures(f);
        model.dispose();
      }
    });
  },
  { backends: ['cpu', 'wasm'] },
);
