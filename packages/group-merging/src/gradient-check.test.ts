/**
 * Gradient checks against central finite differences (cpu backend, float32) on tiny configurations, for
 * every trainable parameter of HGM and of the GroupViT grouping block. The soft assignment is used: a
 * hard one-hot is piecewise constant, so its straight-through gradient is by design not the finite-
 * difference one (assignment.test.ts checks that it equals the soft gradient). Gumbel noise stays on,
 * drawn from the same seed at every evaluation.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { ParameterStore, Rng } from '@hgm/tensor';
import { describeBackends } from '@hgm/tensor/testing';
import { HierarchicalGroupMerging } from './hierarchical-group-merging';
import { GroupViTGroupingBlock, resolveGroupViTGroupingBlockConfig } from './groupvit-grouping-block';

const EPS = 2e-3;
const REL_TOL = 1e-2;
const ABS_TOL = 2e-3;

/**
 * Compares tf.variableGrads with central differences on `probes` entries of every trainable parameter;
 * returns the worst relative error per parameter.
 */
async function gradientCheck(
  store: ParameterStore,
  loss: () => tf.Scalar,
  probes: number,
  rng: Rng,
): Promise<{ worst: Map<string, number>; significant: number; total: number }> {
  const { value, grads } = tf.variableGrads(loss);
  value.dispose();
  const worst = new Map<string, number>();
  let significant = 0;
  let total = 0;
  for (const p of store.entries().filter((e) => e.trainable)) {
    const g = grads[p.variable.name];
    expect(g, `gradient of ${p.name}`).toBeDefined();
    const analytic = (await g!.data()) as Float32Array;
    const base = Float32Array.from((await p.variable.data()) as Float32Array);
    let maxRel = 0;
    for (let k = 0; k < Math.min(probes, base.length); k++) {
      const i = rng.int(base.length);
      const evalAt = (delta: number): number => {
        const v = Float32Array.from(base);
        v[i] = base[i]! + delta;
        const t = tf.tensor(v, p.variable.shape);
        p.variable.assign(t);
        t.dispose();
        const l = tf.tidy(loss);
        const out = l.dataSync()[0]!;
        l.dispose();
        return out;
      };
      const fd = (evalAt(EPS) - evalAt(-EPS)) / (2 * EPS);
      const restore = tf.tensor(base, p.variable.shape);
      p.variable.assign(restore);
      restore.dispose();
      const a = analytic[i]!;
      const err = Math.abs(fd - a);
      const rel = err / Math.max(Math.abs(fd), Math.abs(a), 1e-12);
      if (err > ABS_TOL + REL_TOL * Math.max(Math.abs(fd), Math.abs(a))) {
        throw new Error(`${p.name}[${i}]: analytic gradient ${a}, finite difference ${fd} (abs err ${err.toExponential(2)}, rel ${rel.toExponential(2)})`);
      }
      maxRel = Math.max(maxRel, err < ABS_TOL ? 0 : rel);
      total++;
      if (Math.abs(fd) > 20 * ABS_TOL) significant++;
    }
    worst.set(p.name, maxRel);
  }
  tf.dispose(Object.values(grads));
  return { worst, significant, total };
}

describeBackends(
  'gradient check (finite differences)',
  ({ it }) => {
    it('HGM: every trainable parameter group (group tokens, init cross-attention, assignment, MLP, norms)', async () => {
      const store = new ParameterStore();
      const hgm = new HierarchicalGroupMerging(
        store,
        { dim: 8, numHeads: 2, groupsPerLevel: [4, 2], hard: false, mlpRatio: 2, weightInitStd: 0.4, groupTokenInitStd: 1 },
        { prefix: 'hgm', rng: new Rng(21) },
      );
      // Non-trivial norms: perturb the LayerNorm affine parameters away from 1 / 0.
      const prng = new Rng(5);
      for (const p of store.entries()) {
        if (/norm/.test(p.name)) {
          const t = tf.add(p.variable, prng.tensorNormal(p.variable.shape, 0, 0.2));
          p.variable.assign(t);
          t.dispose();
        }
      }
      const rng = new Rng(22);
      const f = [rng.tensorNormal([2, 5, 8]), rng.tensorNormal([2, 5, 8])];
      const wA = rng.tensorNormal([2, 5, 8]);
      const wG = rng.tensorNormal([2, 2, 8]);
      const wP = rng.tensorNormal([2, 5, 4]);
      const loss = (): tf.Scalar =>
        tf.tidy(() => {
          const out = hgm.forward(f, { mode: 'train', rng: new Rng(23) });
          return tf.addN([
            tf.sum(tf.mul(out.assignedFeatures, wA)),
            tf.sum(tf.mul(out.imageAnchors, wG)),
            tf.sum(tf.mul(out.levels[0]!.assignment, wP)),
          ]) as tf.Scalar;
        });
      const { worst, significant, total } = await gradientCheck(store, loss, 3, new Rng(24));
      // The check is meaningful: most probed derivatives are far above the absolute tolerance.
      expect(significant / total).toBeGreaterThan(0.5);
      const groups = new Set([...worst.keys()].map((n) => n.replace(/\.(weight|bias)$/, '').replace(/^hgm\.levels\.\d+\./, '')));
      for (const g of [
        'hgm.group_tokens',
        'init_attn.q_proj',
        'init_attn.norm_groups',
        'assign.q_proj',
        'assign.k_proj',
        'assign.v_proj',
        'assign.proj',
        'assign.norm_patches',
        'mlp.fc1',
        'mlp.fc2',
        'mlp.norm',
      ]) {
        expect(groups).toContain(g);
      }
      tf.dispose([...f, wA, wG, wP]);
      store.dispose();
    }, 120_000);

    it('GroupViT grouping block (soft, with reduction): every trainable parameter', async () => {
      const store = new ParameterStore();
      const block = new GroupViTGroupingBlock(
        store,
        '',
        resolveGroupViTGroupingBlockConfig({ dim: 8, outDim: 6, numHeads: 2, numGroupTokens: 4, numOutputGroups: 2, hard: false, mlpRatio: [1, 2] }),
        new Rng(31),
      );
      for (const p of store.entries()) {
        const t = tf.add(p.variable, new Rng(p.name).tensorNormal(p.variable.shape, 0, 0.3));
        p.variable.assign(t);
        t.dispose();
      }
      const rng = new Rng(32);
      const x = rng.tensorNormal([2, 5, 8]);
      const g = rng.tensorNormal([2, 4, 8]);
      const w = rng.tensorNormal([2, 2, 6]);
      const loss = (): tf.Scalar => tf.tidy(() => tf.sum(tf.mul(block.forward(x, g, { mode: 'train', rng: new Rng(33) }).newGroupTokens, w)) as tf.Scalar);
      const { worst, significant, total } = await gradientCheck(store, loss, 2, new Rng(34));
      expect(significant / total).toBeGreaterThan(0.5);
      expect(worst.size).toBe(store.entries().length);
      tf.dispose([x, g, w]);
      store.dispose();
    }, 120_000);
  },
  { backends: ['cpu'] },
);
