import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { join } from 'node:path';
import { ParameterStore, Rng } from '@hgm/tensor';
import { describeBackends, expectClose, expectNoLeak, readFixture, repoFixturesDir } from '@hgm/tensor/testing';
import { GroupViTGroupingBlock, disposeGroupViTGroupingBlockOutput, resolveGroupViTGroupingBlockConfig } from './groupvit-grouping-block';

const folder = (): string => join(repoFixturesDir(), 'vit/groupvit-assign');

describeBackends(
  'GroupViTGroupingBlock',
  ({ it }) => {
    it('matches the reference GroupingBlock (groupvit-assign: hard, soft, hard_reduce)', async () => {
      const fx = await readFixture(folder());
      const cfg = await fx.json<{ variants: Record<string, { weights: string; constructor: Record<string, number | boolean> }> }>('config.json');
      const inputs = await fx.tensors('inputs.safetensors');
      const outputs = await fx.tensors('outputs.safetensors');
      const x = tf.tensor(inputs.get('x')!.data, inputs.get('x')!.shape);
      const groups = tf.tensor(inputs.get('group_tokens')!.data, inputs.get('group_tokens')!.shape);
      expect(Object.keys(cfg.variants).sort()).toEqual(['hard', 'hard_reduce', 'soft']);
      for (const [variant, spec] of Object.entries(cfg.variants)) {
        const c = spec.constructor;
        const store = new ParameterStore();
        const block = new GroupViTGroupingBlock(
          store,
          '',
          resolveGroupViTGroupingBlockConfig({
            dim: c.dim as number,
            outDim: c.out_dim as number,
            numHeads: c.num_heads as number,
            numGroupTokens: c.num_group_token as number,
            numOutputGroups: c.num_output_group as number,
            hard: c.hard as boolean,
            gumbel: c.gumbel as boolean,
          }),
          new Rng(0),
        );
        const reader = await fx.safetensors(spec.weights);
        const report = await store.loadStateDict(reader);
        await reader.close();
        expect(report.loaded.length).toBe(reader.tensorNames().length);
        const out = block.forward(x, groups, { mode: 'eval' });
        const tol = { atol: 1e-4, rtol: 1e-4 };
        await expectClose(out.newGroupTokens, outputs.get(`${variant}.new_x`)!, { ...tol, name: `${variant}.new_x` });
        await expectClose(out.attnHard, outputs.get(`${variant}.attn_hard`)!, { ...tol, name: `${variant}.attn_hard` });
        await expectClose(out.attnSoft, outputs.get(`${variant}.attn_soft`)!, { ...tol, name: `${variant}.attn_soft` });
        await expectClose(out.intermediates.preAssignAttn, outputs.get(`${variant}.pre_assign_attn_out`)!, { ...tol, name: `${variant}.pre_assign_attn_out` });
        await expectClose(out.intermediates.assign, outputs.get(`${variant}.assign_out`)!, { ...tol, name: `${variant}.assign_out` });
        disposeGroupViTGroupingBlockOutput(out);
        store.dispose();
      }
      tf.dispose([x, groups]);
    });

    it('training mode draws Gumbel noise from the rng: reproducible per seed, assignments stay one-hot', async () => {
      const store = new ParameterStore();
      const rng = new Rng(11);
      const block = new GroupViTGroupingBlock(
        store,
        'stage.0',
        resolveGroupViTGroupingBlockConfig({ dim: 8, numHeads: 2, numGroupTokens: 4, numOutputGroups: 2 }),
        rng,
      );
      expect(store.names()).toContain('stage.0.assign.q_proj.weight');
      expect(store.names()).not.toContain('stage.0.reduction.1.weight');
      const x = rng.tensorNormal([2, 6, 8]);
      const g = rng.tensorNormal([2, 4, 8]);
      const a = block.forward(x, g, { mode: 'train', rng: new Rng(5) });
      const b = block.forward(x, g, { mode: 'train', rng: new Rng(5) });
      await expectClose(a.newGroupTokens, b.newGroupTokens, { atol: 0 });
      const sums = tf.sum(a.attnHard, 2);
      await expectClose(sums, new Array(12).fill(1), { atol: 1e-6 });
      expect(() => block.forward(x, g, { mode: 'train' })).toThrow(/needs an Rng/);
      disposeGroupViTGroupingBlockOutput(a);
      disposeGroupViTGroupingBlockOutput(b);
      tf.dispose([x, g, sums]);
      store.dispose();
    });

    it('validates its config and inputs', () => {
      expect(() => resolveGroupViTGroupingBlockConfig({ dim: 10, numHeads: 3, numGroupTokens: 4, numOutputGroups: 2 })).toThrow(
        /dim 10 is not divisible by numHeads 3/,
      );
      const store = new ParameterStore();
      const block = new GroupViTGroupingBlock(
        store,
        '',
        resolveGroupViTGroupingBlockConfig({ dim: 8, numHeads: 2, numGroupTokens: 4, numOutputGroups: 2 }),
        new Rng(1),
      );
      const x = tf.zeros([1, 5, 8]);
      const g = tf.zeros([1, 3, 8]);
      expect(() => block.forward(x, g, { mode: 'eval' })).toThrow(/groupTokens: expected shape \[1, 4, 8\], found \[1, 3, 8\]/);
      tf.dispose([x, g]);
      store.dispose();
    });

    it('does not leak across repeated forward + backward', async () => {
      const store = new ParameterStore();
      const rng = new Rng(2);
      const block = new GroupViTGroupingBlock(
        store,
        '',
        resolveGroupViTGroupingBlockConfig({ dim: 8, numHeads: 2, numGroupTokens: 4, numOutputGroups: 2, outDim: 12 }),
        rng,
      );
      const x = rng.tensorNormal([1, 6, 8]);
      const g = rng.tensorNormal([1, 4, 8]);
      await expectNoLeak(() => {
        const { value, grads } = tf.variableGrads(() => {
          const out = block.forward(x, g, { mode: 'train', rng: new Rng(3) });
          return tf.sum(tf.square(out.newGroupTokens)) as tf.Scalar;
        });
        tf.dispose([value, ...Object.values(grads)]);
      });
      tf.dispose([x, g]);
      store.dispose();
    });
  },
  { backends: ['cpu', 'wasm'] },
);
