import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import fc from 'fast-check';
import { ParameterStore, Rng } from '@hgm/tensor';
import { describeBackends, expectClose, expectNoLeak } from '@hgm/tensor/testing';
import { HierarchicalGroupMerging, disposeHierarchicalGroupMergingOutput, type HierarchicalGroupMergingOutput } from './hierarchical-group-merging';
import { DEFAULT_HIERARCHICAL_GROUP_MERGING_CONFIG, resolveHierarchicalGroupMergingConfig, type HierarchicalGroupMergingConfig } from './config';

const tiny: Partial<HierarchicalGroupMergingConfig> = { dim: 16, numHeads: 2, groupsPerLevel: [8, 4, 2], weightInitStd: 0.3, groupTokenInitStd: 1 };

function features(rng: Rng, levels: number, b: number, m: number, d: number): tf.Tensor[] {
  return Array.from({ length: levels }, () => rng.tensorNormal([b, m, d]));
}

/** Checks every invariant of an output; `hard` says whether assignments must be one-hot. */
async function checkInvariants(out: HierarchicalGroupMergingOutput, cfg: HierarchicalGroupMergingConfig, b: number, m: number, hard: boolean): Promise<void> {
  const d = cfg.dim;
  expect(out.levels.length).toBe(cfg.groupsPerLevel.length);
  for (const [h, level] of out.levels.entries()) {
    const k = cfg.groupsPerLevel[h]!;
    expect(level.groupTokens.shape).toEqual([b, k, d]);
    expect(level.updatedGroupTokens.shape).toEqual([b, k, d]);
    expect(level.assignment.shape).toEqual([b, m, k]);
    expect(level.initializedPatches.shape).toEqual([b, m, d]);
    // Assignments sum to one over groups (soft and hard).
    await expectClose(tf.sum(level.assignment, -1), new Array(b * m).fill(1), { atol: 1e-5, name: `level ${h} assignment sum` });
    await expectClose(tf.sum(level.softAssignment, -1), new Array(b * m).fill(1), { atol: 1e-5, name: `level ${h} soft assignment sum` });
    if (hard) expect([...((await level.assignment.data()) as Float32Array)].every((v) => v === 0 || v === 1)).toBe(true);
    // Sizes count initial group tokens: they add up to K_1.
    await expectClose(tf.sum(level.groupSizes, -1), new Array(b).fill(cfg.groupsPerLevel[0]!), { atol: 1e-4, name: `level ${h} sizes` });
    if (h < out.levels.length - 1) {
      const next = cfg.groupsPerLevel[h + 1]!;
      expect(level.mergeMembership!.shape).toEqual([b, next, k]);
      await expectClose(tf.sum(level.mergeMembership!, 1), new Array(b * k).fill(1), { atol: 0, name: `level ${h} membership` });
      // The next level's tokens are the size-weighted means: size-weighted mass is kept.
      const sizes = tf.expandDims(level.groupSizes, -1);
      const nextLevel = out.levels[h + 1]!;
      const massIn = tf.sum(tf.mul(level.updatedGroupTokens, sizes), 1);
      const massOut = tf.sum(tf.mul(nextLevel.groupTokens, tf.expandDims(nextLevel.groupSizes, -1)), 1);
      await expectClose(massOut, massIn, { atol: 1e-3, rtol: 1e-4, name: `level ${h} mass` });
    } else {
      expect(level.mergeMembership).toBeNull();
    }
  }
  expect(out.imageAnchors.shape).toEqual([b, 2, d]);
  expect(out.assignedFeatures.shape).toEqual([b, m, d]);
  const last = out.levels[out.levels.length - 1]!;
  await expectClose(out.imageAnchors, last.updatedGroupTokens, { atol: 0 });
  if (hard) {
    // Each row of F_assign is the group token the patch is assigned to.
    const pi = (await last.assignment.array()) as number[][][];
    const anchors = (await out.imageAnchors.array()) as number[][][];
    const fa = (await out.assignedFeatures.array()) as number[][][];
    for (let bi = 0; bi < b; bi++)
      for (let mi = 0; mi < m; mi++) {
        const g = pi[bi]![mi]!.indexOf(1);
        await expectClose(fa[bi]![mi]!, anchors[bi]![g]!, { atol: 1e-6, name: `F_assign[${bi}, ${mi}]` });
      }
  }
}

describeBackends(
  'HierarchicalGroupMerging',
  ({ it }) => {
    it('produces typed outputs that keep every invariant (hard, eval and train)', async () => {
      const store = new ParameterStore();
      const hgm = new HierarchicalGroupMerging(store, tiny, { prefix: 'hgm', rng: new Rng(1) });
      const rng = new Rng(2);
      const f = features(rng, 3, 2, 10, 16);
      for (const mode of ['eval', 'train'] as const) {
        const out = tf.tidy(() => hgm.forward(f, { mode, rng: new Rng(3) }) as unknown as tf.TensorContainer) as unknown as HierarchicalGroupMergingOutput;
        await checkInvariants(out, hgm.config, 2, 10, true);
        disposeHierarchicalGroupMergingOutput(out);
      }
      tf.dispose(f);
      store.dispose();
    });

    it('keeps the invariants for any decreasing group list, batch and patch count (property, soft and hard)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(fc.integer({ min: 3, max: 12 }), { maxLength: 2 }),
          fc.integer({ min: 1, max: 2 }),
          fc.integer({ min: 1, max: 7 }),
          fc.boolean(),
          fc.integer({ min: 0, max: 1_000_000 }),
          async (upper, b, m, hard, seed) => {
            const groupsPerLevel = [...upper.sort((p, q) => q - p), 2];
            const store = new ParameterStore();
            const hgm = new HierarchicalGroupMerging(store, { ...tiny, dim: 8, groupsPerLevel, hard }, { prefix: '', rng: new Rng(seed) });
            const f = features(new Rng(seed + 1), groupsPerLevel.length, b, m, 8);
            const out = hgm.forward(f, { mode: 'train', rng: new Rng(seed + 2) });
            await checkInvariants(out, hgm.config, b, m, hard);
            disposeHierarchicalGroupMergingOutput(out);
            tf.dispose(f);
            store.dispose();
          },
        ),
        { numRuns: 8, seed: 99 },
      );
    });

    it('registers named parameters with seeded initialisation and round-trips its state dict', async () => {
      const storeA = new ParameterStore();
      const a = new HierarchicalGroupMerging(storeA, tiny, { prefix: 'hgm', rng: new Rng(7) });
      const names = storeA.names();
      expect(names[0]).toBe('hgm.group_tokens');
      for (const n of [
        'hgm.levels.0.init_attn.q_proj.weight',
        'hgm.levels.2.assign.k_proj.bias',
        'hgm.levels.1.assign.norm_patches.weight',
        'hgm.levels.1.mlp.fc2.weight',
      ])
        expect(names).toContain(n);
      expect(storeA.get('hgm.group_tokens').shape).toEqual([8, 16]);
      // Same seed, same parameters.
      const storeB = new ParameterStore();
      new HierarchicalGroupMerging(storeB, tiny, { prefix: 'hgm', rng: new Rng(7) });
      await expectClose(storeB.get('hgm.levels.1.assign.q_proj.weight'), storeA.get('hgm.levels.1.assign.q_proj.weight'), { atol: 0 });
      // Load A's values into a differently-seeded model: outputs agree.
      const storeC = new ParameterStore();
      const c = new HierarchicalGroupMerging(storeC, tiny, { prefix: 'hgm', rng: new Rng(8) });
      const sd = await storeA.stateDict();
      await storeC.loadStateDict(new Map([...sd].map(([k, v]) => [k, { dtype: 'float32' as const, shape: v.shape, data: v.data as Float32Array }])));
      const f = features(new Rng(9), 3, 1, 5, 16);
      const oa = a.forward(f, { mode: 'eval' });
      const oc = c.forward(f, { mode: 'eval' });
      await expectClose(oc.assignedFeatures, oa.assignedFeatures, { atol: 0 });
      // Default config: 4 levels of 768 wide blocks.
      expect(DEFAULT_HIERARCHICAL_GROUP_MERGING_CONFIG.groupsPerLevel).toEqual([16, 8, 4, 2]);
      disposeHierarchicalGroupMergingOutput(oa);
      disposeHierarchicalGroupMergingOutput(oc);
      tf.dispose(f);
      [storeA, storeB, storeC].forEach((s) => s.dispose());
    });

    it('eval is deterministic; train noise comes from the rng passed per call', async () => {
      const store = new ParameterStore();
      const hgm = new HierarchicalGroupMerging(store, { ...tiny, hard: false }, { prefix: '', rng: new Rng(1) });
      const f = features(new Rng(2), 3, 1, 6, 16);
      const e1 = hgm.forward(f, { mode: 'eval' });
      const e2 = hgm.forward(f, { mode: 'eval', rng: new Rng(4) });
      const t1 = hgm.forward(f, { mode: 'train', rng: new Rng(4) });
      const t2 = hgm.forward(f, { mode: 'train', rng: new Rng(4) });
      const t3 = hgm.forward(f, { mode: 'train', rng: new Rng(5) });
      await expectClose(e2.assignedFeatures, e1.assignedFeatures, { atol: 0 });
      await expectClose(t2.assignedFeatures, t1.assignedFeatures, { atol: 0 });
      const diff = tf.max(tf.abs(tf.sub(t3.levels[0]!.softAssignment, t1.levels[0]!.softAssignment)));
      expect((await diff.data())[0]).toBeGreaterThan(1e-3);
      expect(() => hgm.forward(f, { mode: 'train' })).toThrow(/needs an Rng/);
      [e1, e2, t1, t2, t3].forEach(disposeHierarchicalGroupMergingOutput);
      tf.dispose([...f, diff]);
      store.dispose();
    });

    it('supports the ablation switches and reductions beyond one ToMe step', async () => {
      const store = new ParameterStore();
      const hgm = new HierarchicalGroupMerging(
        store,
        { ...tiny, groupsPerLevel: [12, 2], initCrossAttention: false, assignPreNorm: false },
        { prefix: 'x', rng: new Rng(1) },
      );
      expect(store.names().some((n) => n.includes('init_attn') || n.includes('norm_patches'))).toBe(false);
      const f = features(new Rng(2), 2, 2, 9, 16);
      const out = hgm.forward(f, { mode: 'eval' });
      await expectClose(out.levels[0]!.initializedPatches, f[0]!, { atol: 0 });
      await checkInvariants(out, hgm.config, 2, 9, true);
      disposeHierarchicalGroupMergingOutput(out);
      tf.dispose(f);
      store.dispose();
    });

    it('validates config and inputs, naming what was expected and found', () => {
      expect(() => resolveHierarchicalGroupMergingConfig({ groupsPerLevel: [16, 16, 2] })).toThrow(/strictly decreasing list, found \[16,16,2\]/);
      expect(() => resolveHierarchicalGroupMergingConfig({ groupsPerLevel: [16, 8, 4] })).toThrow(/last level must have 2 groups/);
      expect(() => resolveHierarchicalGroupMergingConfig({ groupsPerLevel: [128, 32, 8, 2], largeMergeStrategy: 'error' })).toThrow(
        /128 -> 32 merges more than half/,
      );
      expect(() => resolveHierarchicalGroupMergingConfig({ dim: 30, numHeads: 8 })).toThrow(/dim 30 is not divisible by numHeads 8/);
      expect(resolveHierarchicalGroupMergingConfig({ groupsPerLevel: [128, 32, 8, 2] }).groupsPerLevel).toEqual([128, 32, 8, 2]);
      const store = new ParameterStore();
      const hgm = new HierarchicalGroupMerging(store, tiny, { prefix: '', rng: new Rng(1) });
      const f = features(new Rng(2), 2, 1, 4, 16);
      expect(() => hgm.forward(f, { mode: 'eval' })).toThrow(/expected 3 tensors \(one per level/);
      const g = [...f, tf.zeros([1, 5, 16])];
      expect(() => hgm.forward(g, { mode: 'eval' })).toThrow(/patchFeatures\[2\]: expected shape \[1, 4, 16\], found \[1, 5, 16\]/);
      tf.dispose(g);
      store.dispose();
    });

    it('does not leak across repeated forward + backward', async () => {
      const store = new ParameterStore();
      const hgm = new HierarchicalGroupMerging(store, tiny, { prefix: '', rng: new Rng(1) });
      const f = features(new Rng(2), 3, 2, 6, 16);
      await expectNoLeak(() => {
        const { value, grads } = tf.variableGrads(() => {
          const out = hgm.forward(f, { mode: 'train', rng: new Rng(3) });
          return tf.add(tf.sum(tf.square(out.assignedFeatures)), tf.sum(out.imageAnchors)) as tf.Scalar;
        });
        expect(Object.keys(grads).length).toBe(store.trainableVariables().length);
        tf.dispose([value, ...Object.values(grads)]);
        const out = hgm.forward(f, { mode: 'eval' });
        disposeHierarchicalGroupMergingOutput(out);
      });
      tf.dispose(f);
      store.dispose();
    });
  },
  { backends: ['cpu', 'wasm'] },
);
