import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ParameterStore, Rng, StateDictError, type HostTensor } from '@hgm/tensor';
import { describeBackends, expectClose, expectNoLeak, readFixture, repoFixturesDir } from '@hgm/tensor/testing';
import { AnomalyClipPromptLearner, anomalyClipIgnoredKeys, fromAnomalyClipParameters, resolveAnomalyClipPromptConfig } from './anomalyclip-prompt-learner';
import type { PromptTextSpec } from './text-spec';
import { wordLevelTextSpec } from './testing-spec';

/** The fixture's text side: its token-embedding table and, as tokenizer, its stored tokenized prompts. */
async function fixtureSpec() {
  const fx = await readFixture(join(repoFixturesDir(), 'clip/anomalyclip-tiny'));
  const reader = await fx.safetensors('weights.safetensors');
  const table = (await reader.readHost('token_embedding.weight')) as HostTensor;
  const weights = new Map<string, HostTensor>();
  for (const n of reader.tensorNames()) if (n.startsWith('prompt_learner.')) weights.set(n, await reader.readHost(n));
  await reader.close();
  const inputs = await fx.json<{ prompt_strings: string[] }>('inputs.json');
  const ids = (await fx.tensors('inputs.safetensors')).get('tokenized_prompts')!;
  const config = await fx.json('config.json');
  const outputs = await fx.tensors('outputs.safetensors');
  const rows = new Map(inputs.prompt_strings.map((s, i) => [s, Int32Array.from((ids.data as Int32Array).subarray(i * 77, (i + 1) * 77))]));
  const [vocab, width] = table.shape as [number, number];
  return {
    config,
    weights,
    outputs,
    make(): { spec: PromptTextSpec; dispose(): void } {
      const t = tf.tensor2d(table.data as Float32Array, [vocab, width]);
      return {
        spec: {
          width,
          contextLength: 77,
          tokenize(text) {
            const r = rows.get(text);
            if (!r) throw new Error(`no stored tokenization of ${JSON.stringify(text)}`);
            return r;
          },
          embedTokens: (x) => tf.tidy(() => tf.gather(t, tf.tensor1d(x, 'int32')) as tf.Tensor2D),
        },
        dispose: () => t.dispose(),
      };
    },
  };
}

describeBackends(
  'AnomalyClipPromptLearner',
  ({ it }) => {
    it('reproduces the prompts and buffers of anomalyclip-tiny from its checkpoint', async () => {
      const f = await fixtureSpec();
      const { spec, dispose } = f.make();
      const store = new ParameterStore();
      const learner = AnomalyClipPromptLearner.create(store, spec, new Rng(0), fromAnomalyClipParameters(f.config.AnomalyCLIP_parameters));
      const report = await store.loadStateDict(f.weights, { ignore: anomalyClipIgnoredKeys() });
      expect(report.loaded.sort()).toEqual([
        'prompt_learner.compound_prompts_text.0',
        'prompt_learner.compound_prompts_text.1',
        'prompt_learner.ctx_neg',
        'prompt_learner.ctx_pos',
      ]);
      const out = learner.forward();
      await expectClose(out.embeddings, f.outputs.get('prompts')!, { atol: 1e-6, rtol: 0, name: 'prompts' });
      expect(out.eotIndices).toEqual([7, 8]);
      expect(out.deepTokens.map((t) => t.shape)).toEqual([
        [2, 48],
        [2, 48],
      ]);
      const buffers = learner.buffers();
      for (const [name, t] of buffers) await expectClose(t, f.weights.get(name)!, { atol: 0, rtol: 0, name });
      tf.dispose([...buffers.values()]);
      out.embeddings.dispose();
      expect(store.count({ trainableOnly: true })).toBe(
        AnomalyClipPromptLearner.parameterCount(fromAnomalyClipParameters(f.config.AnomalyCLIP_parameters), 48),
      );
      learner.dispose();
      store.dispose();
      dispose();
    });

    it('rejects a checkpoint of another prompt length, naming the key', async () => {
      const f = await fixtureSpec();
      const { spec, dispose } = f.make();
      const store = new ParameterStore();
      const learner = AnomalyClipPromptLearner.create(store, { ...spec, tokenize: () => spec.tokenize('X X X X object.') }, new Rng(0), {
        contextTokens: 5,
        deepPromptDepth: 3,
        deepPromptLength: 2,
      });
      const err = await store.loadStateDict(f.weights, { ignore: anomalyClipIgnoredKeys() }).catch((e) => e);
      expect(err).toBeInstanceOf(StateDictError);
      expect(String(err.message)).toMatch(/prompt_learner\.ctx_pos/);
      learner.dispose();
      store.dispose();
      dispose();
    });

    it('passes gradients to the context and deep tokens only where they are used, without leaks', async () => {
      const table = new Rng(3).tensorNormal([40, 8]) as tf.Tensor2D;
      const spec = wordLevelTextSpec(table, 16);
      const store = new ParameterStore();
      const learner = AnomalyClipPromptLearner.create(store, spec, new Rng(1), { contextTokens: 3, deepPromptDepth: 2, deepPromptLength: 2 });
      const weights = new Rng(5).tensorNormal([2, 16, 8]);
      const step = () => {
        const { value, grads } = tf.variableGrads(() => {
          const out = learner.forward();
          return tf.sum(tf.mul(out.embeddings, weights)) as tf.Scalar;
        }, store.trainableVariables());
        const names = Object.keys(grads);
        const result = { value: value.dataSync()[0]!, ctx: grads[learner.contextNormal.name]!.arraySync() as number[][][][] };
        tf.dispose([value, ...Object.values(grads)]);
        return { names, ...result };
      };
      const r = step();
      // d/d ctx_pos[0,0,i,:] of sum(prompts * w) = w[0, 1 + i, :]
      const w = weights.arraySync() as number[][][];
      await expectClose(r.ctx[0]![0]!.flat(), w[0]!.slice(1, 4).flat(), { atol: 1e-6, name: 'ctx_pos gradient' });
      await expectNoLeak(() => void step(), { name: 'prompt learner step' });
      tf.dispose([table, weights]);
      learner.dispose();
      store.dispose();
    });

    it('validates its config', () => {
      expect(() => resolveAnomalyClipPromptConfig({ contextTokens: 0 })).toThrow(/contextTokens must be an integer >= 1, got 0/);
      expect(resolveAnomalyClipPromptConfig()).toMatchObject({ contextTokens: 12, deepPromptDepth: 9, deepPromptLength: 4 });
    });
  },
  { backends: ['cpu', 'wasm'] },
);
