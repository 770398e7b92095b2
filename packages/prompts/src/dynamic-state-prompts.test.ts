import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { ParameterStore, Rng } from '@hgm/tensor';
import { describeBackends, expectClose, expectNoLeak } from '@hgm/tensor/testing';
import { DynamicStatePrompts, resolveDynamicStatePromptConfig } from './dynamic-state-prompts';
import { wordLevelTextSpec } from './testing-spec';

describeBackends(
  'DynamicStatePrompts',
  ({ it }) => {
    const setup = (partial = {}) => {
      const table = new Rng(3).tensorNormal([40, 6]) as tf.Tensor2D;
      const spec = wordLevelTextSpec(table, 20);
      const store = new ParameterStore();
      const dsp = DynamicStatePrompts.create(store, spec, 5, new Rng(1), { contextTokens: 3, deepPromptDepth: 3, deepPromptLength: 2, ...partial });
      return {
        table,
        spec,
        store,
        dsp,
        done: () => {
          dsp.dispose();
          store.dispose();
          table.dispose();
        },
      };
    };

    it('splices [SOT][V][W][G~][object.][EOT] per image, normal and anomalous interleaved', async () => {
      const { table, spec, store, dsp, done } = setup();
      const gn = new Rng(7).tensorNormal([2, 5]) as tf.Tensor2D;
      const ga = new Rng(8).tensorNormal([2, 5]) as tf.Tensor2D;
      const out = dsp.forward(gn, ga);
      expect(out.embeddings.shape).toEqual([4, 20, 6]);
      const ids = spec.tokenize('X X X X X object.');
      expect(out.eotIndices).toEqual([8, 8, 8, 8]);
      expect(Array.from(out.tokenIds[0]!)).toEqual(Array.from(ids));
      const e = out.embeddings.arraySync() as number[][][];
      const emb = table.arraySync() as number[][];
      const proj = tf.tidy(() =>
        tf.add(tf.matMul(ga, store.get('dsp.group_projection.weight'), false, true), store.get('dsp.group_projection.bias')).arraySync(),
      ) as number[][];
      // row 3 = anomalous prompt of image 1
      await expectClose(e[3]![0]!, emb[ids[0]!]!, { name: 'SOT' });
      await expectClose(e[3]!.slice(1, 4).flat(), (store.get('dsp.ctx_anomaly').arraySync() as number[][]).flat(), { name: 'context' });
      await expectClose(e[3]![4]!, (store.get('dsp.state_anomaly').arraySync() as number[][])[0]!, { name: 'state word' });
      await expectClose(e[3]![5]!, proj[1]!, { atol: 1e-5, name: 'group token' });
      await expectClose(
        e[3]!.slice(6).flat(),
        Array.from(ids.subarray(6)).flatMap((i) => emb[i]!),
        { name: 'suffix' },
      );
      // the state word starts as the word's embedding
      await expectClose(e[0]![4]!, emb[spec.tokenize('normal')[1]!]!, { name: 'normal state word' });
      expect(store.count({ trainableOnly: true })).toBe(
        DynamicStatePrompts.parameterCount({ contextTokens: 3, deepPromptDepth: 3, deepPromptLength: 2 }, 6, 5),
      );
      tf.dispose([gn, ga, out.embeddings]);
      done();
    });

    it('passes gradients to the group anchors and every learnable part, without leaks', async () => {
      const { store, dsp, done } = setup({ learnStateWords: false });
      expect(store.has('dsp.state_normal')).toBe(false);
      const gn = tf.variable(new Rng(7).tensorNormal([2, 5]));
      const ga = tf.variable(new Rng(8).tensorNormal([2, 5]));
      const w = new Rng(9).tensorNormal([4, 20, 6]);
      const step = () => {
        const { value, grads } = tf.variableGrads(
          () => tf.sum(tf.mul(dsp.forward(gn as tf.Tensor2D, ga as tf.Tensor2D).embeddings, w)) as tf.Scalar,
          [...store.trainableVariables().filter((v) => !dsp.deepTokens.includes(v)), gn, ga],
        );
        const norms = Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.tidy(() => tf.sum(tf.square(g)).dataSync()[0]!)]));
        tf.dispose([value, ...Object.values(grads)]);
        return norms;
      };
      const norms = step();
      expect(norms[gn.name]).toBeGreaterThan(0);
      expect(norms[store.get('dsp.group_projection.weight').name]).toBeGreaterThan(0);
      expect(norms[store.get('dsp.ctx_normal').name]).toBeGreaterThan(0);
      // deep tokens are not part of the assembled sequence (the text encoder uses them)
      expect(norms[store.get('dsp.compound_prompts_text.0').name]).toBeUndefined();
      await expectNoLeak(() => void step(), { name: 'DSP step' });
      tf.dispose([gn, ga, w]);
      done();
    });

    it('explains bad inputs and configs', () => {
      const { dsp, spec, done } = setup();
      const bad = tf.zeros([2, 4]) as tf.Tensor2D;
      expect(() => dsp.forward(bad, bad)).toThrow(/anchors must both be \[B, 5\], got \[2, 4\]/);
      bad.dispose();
      expect(() => DynamicStatePrompts.create(new ParameterStore(), spec, 5, new Rng(0), { stateWords: { normal: 'very good', anomaly: 'bad' } })).toThrow(
        /must be one token, found 2/,
      );
      expect(() => resolveDynamicStatePromptConfig({ contextTokens: 1.5 })).toThrow(/contextTokens must be an integer/);
      done();
    });
  },
  { backends: ['cpu', 'wasm'] },
);
