import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import fc from 'fast-check';
import { ParameterStore, Rng } from '@hgm/tensor';
import { describeBackends, expectClose, expectNoLeak } from '@hgm/tensor/testing';
import { GroupGatedTokenRefiner, disposeGroupGatedTokenRefinerOutput } from './group-gated-token-refiner';
import { resolveGroupGatedTokenRefinerConfig } from './config';

/** The refiner written out on the host, in float64, from the stored parameters. */
async function reference(
  store: ParameterStore,
  prefix: string,
  t: number[][],
  anchors: number[][][],
  gate: 'additive' | 'multiplicative',
): Promise<number[][]> {
  const nw = [...(await store.get(`${prefix}.norm.weight`).data())];
  const nb = [...(await store.get(`${prefix}.norm.bias`).data())];
  const gw = (await store.get(`${prefix}.gate.weight`).array()) as number[][];
  const gb = [...(await store.get(`${prefix}.gate.bias`).data())];
  const dot = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + v * b[i]!, 0);
  return t.map((tc, bi) => {
    const w = anchors[bi]!.map((g) => dot(tc, g) / (Math.sqrt(dot(tc, tc)) * Math.sqrt(dot(g, g))));
    const mean = (w[0]! + w[1]!) / 2;
    const variance = ((w[0]! - mean) ** 2 + (w[1]! - mean) ** 2) / 2;
    const ln = w.map((v, i) => ((v - mean) / Math.sqrt(variance + 1e-5)) * nw[i]! + nb[i]!);
    return tc.map((v, d) => {
      const s = 1 / (1 + Math.exp(-(gw[d]![0]! * ln[0]! + gw[d]![1]! * ln[1]! + gb[d]!)));
      return gate === 'additive' ? v + s : v * (1 + s);
    });
  });
}

describeBackends(
  'GroupGatedTokenRefiner',
  ({ it }) => {
    it('computes t_ref = t_cls + sigmoid(Linear(LN([cos(t, G_N), cos(t, G_A)]))) and the multiplicative variant', async () => {
      for (const gate of ['additive', 'multiplicative'] as const) {
        const store = new ParameterStore();
        const refiner = new GroupGatedTokenRefiner(store, { dim: 6, gate, weightInitStd: 0.5 }, { prefix: 'refiner', rng: new Rng(1) });
        // Non-trivial LayerNorm affine.
        store.get('refiner.norm.weight').assign(tf.tensor1d([1.3, 0.7]));
        store.get('refiner.norm.bias').assign(tf.tensor1d([0.1, -0.2]));
        const rng = new Rng(2);
        const t = rng.tensorNormal([3, 6]);
        const anchors = rng.tensorNormal([3, 2, 6]);
        const out = refiner.forward(t, anchors);
        const expected = await reference(store, 'refiner', (await t.array()) as number[][], (await anchors.array()) as number[][][], gate);
        await expectClose(out.refinedCls, expected.flat(), { atol: 1e-5, rtol: 1e-5, name: `${gate} t_ref` });
        expect(out.anchorSimilarity.shape).toEqual([3, 2]);
        expect(out.gate.shape).toEqual([3, 6]);
        disposeGroupGatedTokenRefinerOutput(out);
        tf.dispose([t, anchors]);
        store.dispose();
      }
    });

    it('keeps its invariants: similarities in [-1, 1], gate in (0, 1), scale invariance of the anchors (property)', async () => {
      const store = new ParameterStore();
      const refiner = new GroupGatedTokenRefiner(store, { dim: 5 }, { prefix: '', rng: new Rng(3) });
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 1_000_000 }), fc.double({ min: 0.01, max: 100, noNaN: true }), async (seed, scale) => {
          const rng = new Rng(seed);
          const t = rng.tensorNormal([2, 5]);
          const anchors = rng.tensorNormal([2, 2, 5]);
          const scaled = tf.mul(anchors, scale);
          const a = refiner.forward(t, anchors);
          const b = refiner.forward(t, scaled);
          const w = (await a.anchorSimilarity.data()) as Float32Array;
          expect([...w].every((v) => v >= -1 - 1e-6 && v <= 1 + 1e-6)).toBe(true);
          const g = (await a.gate.data()) as Float32Array;
          expect([...g].every((v) => v > 0 && v < 1)).toBe(true);
          await expectClose(b.anchorSimilarity, a.anchorSimilarity, { atol: 1e-5 });
          disposeGroupGatedTokenRefinerOutput(a);
          disposeGroupGatedTokenRefinerOutput(b);
          tf.dispose([t, anchors, scaled]);
        }),
        { numRuns: 20, seed: 5 },
      );
      store.dispose();
    });

    it('registers named, seeded parameters and validates inputs and config', async () => {
      const a = new ParameterStore();
      new GroupGatedTokenRefiner(a, { dim: 4 }, { prefix: 'refiner', rng: new Rng(9) });
      expect(a.names()).toEqual(['refiner.norm.weight', 'refiner.norm.bias', 'refiner.gate.weight', 'refiner.gate.bias']);
      expect(a.get('refiner.gate.weight').shape).toEqual([4, 2]);
      const b = new ParameterStore();
      const r = new GroupGatedTokenRefiner(b, { dim: 4 }, { prefix: 'refiner', rng: new Rng(9) });
      await expectClose(b.get('refiner.gate.weight'), a.get('refiner.gate.weight'), { atol: 0 });
      const t = tf.zeros([2, 4]);
      const bad = tf.zeros([2, 3, 4]);
      expect(() => r.forward(t, bad)).toThrow(/imageAnchors: expected shape \[2, 2, 4\], found \[2, 3, 4\]/);
      expect(() => r.forward(tf.zeros([2, 5]), bad)).toThrow(/globalToken: expected shape \[B, 4\], found \[2, 5\]/);
      expect(() => resolveGroupGatedTokenRefinerConfig({ gate: 'both' as never })).toThrow(/gate: expected 'additive' or 'multiplicative', found "both"/);
      tf.dispose([t, bad]);
      a.dispose();
      b.dispose();
    });

    it('does not leak across repeated forward + backward', async () => {
      const store = new ParameterStore();
      const refiner = new GroupGatedTokenRefiner(store, { dim: 4, gate: 'multiplicative' }, { prefix: '', rng: new Rng(1) });
      const rng = new Rng(2);
      const t = rng.tensorNormal([2, 4]);
      const anchors = rng.tensorNormal([2, 2, 4]);
      await expectNoLeak(() => {
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(refiner.forward(t, anchors).refinedCls)) as tf.Scalar);
        tf.dispose([value, ...Object.values(grads)]);
      });
      tf.dispose([t, anchors]);
      store.dispose();
    });
  },
  { backends: ['cpu', 'wasm'] },
);

describeBackends(
  'GroupGatedTokenRefiner gradient check',
  ({ it }) => {
    it('matches central finite differences for every parameter and for the inputs (both gates)', async () => {
      const eps = 2e-3;
      for (const gate of ['additive', 'multiplicative'] as const) {
        const store = new ParameterStore();
        const refiner = new GroupGatedTokenRefiner(store, { dim: 5, gate, weightInitStd: 0.7 }, { prefix: 'r', rng: new Rng(11) });
        store.get('r.norm.weight').assign(tf.tensor1d([1.2, 0.8]));
        store.get('r.norm.bias').assign(tf.tensor1d([0.3, -0.1]));
        const rng = new Rng(12);
        const t = rng.tensorNormal([2, 5]);
        // Anchors with w_n and w_a close, so that the LayerNorm over two values is not saturated.
        const base = rng.tensorNormal([2, 1, 5]);
        const anchors = tf.add(tf.tile(base, [1, 2, 1]), rng.tensorNormal([2, 2, 5], 0, 0.003));
        const wOut = rng.tensorNormal([2, 5]);
        const lossOf = (tc: tf.Tensor, an: tf.Tensor): tf.Scalar => tf.tidy(() => tf.sum(tf.mul(refiner.forward(tc, an).refinedCls, wOut)) as tf.Scalar);
        const { grads } = tf.variableGrads(() => lossOf(t, anchors));
        const [gT, gA] = tf.grads((tc: tf.Tensor, an: tf.Tensor) => lossOf(tc, an))([t, anchors]);
        const checks: { name: string; tensor: tf.Tensor; grad: tf.Tensor; assign?: (v: tf.Tensor) => void }[] = [
          ...store
            .entries()
            .map((p) => ({ name: p.name, tensor: p.variable as tf.Tensor, grad: grads[p.variable.name]!, assign: (v: tf.Tensor) => p.variable.assign(v) })),
          { name: 'globalToken', tensor: t, grad: gT! },
          { name: 'imageAnchors', tensor: anchors, grad: gA! },
        ];
        let significant = 0;
        for (const c of checks) {
          const values = Float32Array.from((await c.tensor.data()) as Float32Array);
          const analytic = (await c.grad.data()) as Float32Array;
          for (let i = 0; i < values.length; i += Math.max(1, Math.floor(values.length / 4))) {
            const at = (delta: number): number => {
              const v = Float32Array.from(values);
              v[i] = values[i]! + delta;
              const x = tf.tensor(v, c.tensor.shape);
              let l: tf.Scalar;
              if (c.assign) {
                c.assign(x);
                l = lossOf(t, anchors);
              } else {
                l = c.name === 'globalToken' ? lossOf(x, anchors) : lossOf(t, x);
              }
              const out = l.dataSync()[0]!;
              tf.dispose([x, l]);
              return out;
            };
            const fd = (at(eps) - at(-eps)) / (2 * eps);
            if (c.assign) {
              const restore = tf.tensor(values, c.tensor.shape);
              c.assign(restore);
              restore.dispose();
            }
            const a = analytic[i]!;
            if (Math.abs(fd) > 0.05) significant++;
            expect(Math.abs(fd - a), `${gate} ${c.name}[${i}]: analytic ${a}, finite difference ${fd}`).toBeLessThanOrEqual(
              2e-3 + 1e-2 * Math.max(Math.abs(fd), Math.abs(a)),
            );
          }
        }
        expect(significant).toBeGreaterThan(10);
        tf.dispose([t, base, anchors, wOut, gT!, gA!, ...Object.values(grads)]);
        store.dispose();
      }
    });
  },
  { backends: ['cpu'] },
);
