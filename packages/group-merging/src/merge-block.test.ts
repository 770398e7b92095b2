import * as tf from '@tensorflow/tfjs-core';
import { ParameterStore, Rng } from '@hgm/tensor';
import { describeBackends, expectClose } from '@hgm/tensor/testing';
import { layerNorm, linear, gelu, splitHeads, mergeHeads, scaledDotProductAttention } from '@hgm/nn';
import { GroupMergeBlock } from './merge-block';
import { resolveHierarchicalGroupMergingConfig } from './config';

/** The block's equations written directly (O(M D^2) projections), from the stored parameters. */
function direct(
  store: ParameterStore,
  prefix: string,
  heads: number,
  patches: tf.Tensor,
  groups: tf.Tensor,
): { init: tf.Tensor; logits: tf.Tensor; updated: tf.Tensor } {
  const P = (n: string): tf.Tensor => store.get(`${prefix}.${n}`);
  const ln = (x: tf.Tensor, n: string): tf.Tensor => layerNorm(x, P(`${n}.weight`), P(`${n}.bias`), 1e-5);
  const lin = (x: tf.Tensor, n: string): tf.Tensor => linear(x, P(`${n}.weight`), P(`${n}.bias`));
  const d = patches.shape[2]!;
  const f0 = ln(patches, 'init_attn.norm_patches');
  const g0 = ln(groups, 'init_attn.norm_groups');
  const q = splitHeads(lin(f0, 'init_attn.q_proj'), heads);
  const k = splitHeads(lin(g0, 'init_attn.k_proj'), heads);
  const v = splitHeads(lin(g0, 'init_attn.v_proj'), heads);
  const init = tf.add(patches, lin(mergeHeads(scaledDotProductAttention(q, k, v)), 'init_attn.proj'));
  const f = ln(init, 'assign.norm_patches');
  const g = ln(groups, 'assign.norm_groups');
  const logits = tf.div(tf.matMul(lin(f, 'assign.q_proj'), lin(g, 'assign.k_proj'), false, true), Math.sqrt(d));
  const pi = tf.softmax(logits);
  const piT = tf.transpose(pi, [0, 2, 1]);
  const norm = tf.div(piT, tf.add(tf.sum(piT, -1, true), 1));
  let updated = tf.add(groups, lin(tf.matMul(norm, lin(f, 'assign.v_proj')), 'assign.proj'));
  updated = tf.add(updated, lin(gelu(lin(ln(updated, 'mlp.norm'), 'mlp.fc1')), 'mlp.fc2'));
  return { init, logits, updated };
}

describeBackends(
  'GroupMergeBlock',
  ({ it }) => {
    it('equals the direct formulas (cross-attention init, assignment logits, group update)', async () => {
      const store = new ParameterStore();
      const cfg = resolveHierarchicalGroupMergingConfig({ dim: 12, numHeads: 3, hard: false, weightInitStd: 0.4 });
      const rng = new Rng(3);
      const block = new GroupMergeBlock(store, 'blk', cfg, rng);
      for (const p of store.entries()) {
        const t = tf.add(p.variable, rng.tensorNormal(p.variable.shape, 0, 0.2));
        p.variable.assign(t);
        t.dispose();
      }
      const patches = rng.tensorNormal([2, 7, 12]);
      const groups = rng.tensorNormal([2, 5, 12]);
      const out = block.forward(patches, groups, { mode: 'eval' });
      const ref = tf.tidy(() => direct(store, 'blk', 3, patches, groups) as unknown as tf.TensorContainer) as unknown as ReturnType<typeof direct>;
      await expectClose(out.initializedPatches, ref.init, { atol: 1e-5, rtol: 1e-5, name: "F'" });
      await expectClose(out.logits, ref.logits, { atol: 1e-5, rtol: 1e-5, name: 'logits' });
      await expectClose(out.updatedGroupTokens, ref.updated, { atol: 1e-5, rtol: 1e-5, name: "G'" });
      tf.dispose([
        patches,
        groups,
        ref.init,
        ref.logits,
        ref.updated,
        out.initializedPatches,
        out.logits,
        out.assignment,
        out.softAssignment,
        out.updatedGroupTokens,
      ]);
      store.dispose();
    });
  },
  { backends: ['cpu', 'wasm'] },
);
