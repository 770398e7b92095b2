import { expect } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@hgm/tensor';
import { describeBackends, expectClose } from '@hgm/tensor/testing';
import { multiHeadAttention, multiHeadAttentionStacked } from './multi-head-attention';
import { causalMask } from './attention';

/** softmax(q kᵀ s + mask) v for one [N, d] head on the host (float64). */
function hostHead(q: number[][], k: number[][], v: number[][], s: number, mask?: (i: number, j: number) => number): number[][] {
  return q.map((qi, i) => {
    const logits = k.map((kj, j) => qi.reduce((acc, x, t) => acc + x * kj[t]!, 0) * s + (mask ? mask(i, j) : 0));
    const m = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - m));
    const z = e.reduce((a, x) => a + x, 0);
    return v[0]!.map((_, c) => e.reduce((acc, w, j) => acc + (w / z) * v[j]![c]!, 0));
  });
}

describeBackends('multiHeadAttention', ({ it }) => {
  it('matches a host softmax attention per head, without a mask, with a causal mask and with a per-head mask', async () => {
    const rng = new Rng(21);
    const [b, h, n, d] = [2, 3, 5, 4];
    const q = rng.tensorNormal([b, h, n, d]);
    const k = rng.tensorNormal([b, h, n, d]);
    const v = rng.tensorNormal([b, h, n, 6]);
    const causal = causalMask(n);
    const headMask = rng.tensorNormal([1, h, n, n]);
    const [qa, ka, va, hm] = (await Promise.all([q.array(), k.array(), v.array(), headMask.array()])) as number[][][][][];
    const before = tf.memory().numTensors;
    const plain = multiHeadAttention(q, k, v);
    const masked = multiHeadAttention(q, k, v, causal);
    const perHead = multiHeadAttention(q, k, v, headMask, 0.3);
    expect(tf.memory().numTensors - before).toBe(3);
    expect(plain.shape).toEqual([b, h, n, 6]);
    const want = (mask?: (bi: number, hi: number) => (i: number, j: number) => number, s = 0.5) =>
      qa!.map((qb, bi) => qb.map((qh, hi) => hostHead(qh, ka![bi]![hi]!, va![bi]![hi]!, s, mask?.(bi, hi))));
    await expectClose(plain, want().flat(3), { atol: 1e-5, rtol: 1e-5, name: 'no mask' });
    await expectClose(masked, want(() => (i, j) => (j > i ? -Infinity : 0)).flat(3), { atol: 1e-5, rtol: 1e-5, name: 'causal' });
    await expectClose(perHead, want((_, hi) => (i, j) => hm![0]![hi]![i]![j]!, 0.3).flat(3), { atol: 1e-5, rtol: 1e-5, name: 'per-head mask' });
    tf.dispose([q, k, v, causal, headMask, plain, masked, perHead]);
  });

  it('has the gradients of the batched formulation', async () => {
    const rng = new Rng(22);
    const q = rng.tensorNormal([1, 2, 3, 4]);
    const k = rng.tensorNormal([1, 2, 3, 4]);
    const v = rng.tensorNormal([1, 2, 3, 4]);
    const w = rng.tensorNormal([1, 2, 3, 4]);
    const ref = (a: tf.Tensor, c: tf.Tensor, e: tf.Tensor) => tf.matMul(tf.softmax(tf.mul(tf.matMul(a, c, false, true), 0.5)), e);
    const got = tf.grads((a: tf.Tensor, c: tf.Tensor, e: tf.Tensor) => tf.sum(tf.mul(multiHeadAttention(a, c, e), w)))([q, k, v]);
    const exp = tf.grads((a: tf.Tensor, c: tf.Tensor, e: tf.Tensor) => tf.sum(tf.mul(ref(a, c, e), w)))([q, k, v]);
    for (let i = 0; i < 3; i++) await expectClose(got[i]!, exp[i]!, { atol: 1e-4, rtol: 1e-4, name: ['dq', 'dk', 'dv'][i]! });
    tf.dispose([q, k, v, w, ...got, ...exp]);
  });

  it('multiHeadAttentionStacked equals multiHeadAttention of the three parts, with and without a mask', async () => {
    const rng = new Rng(23);
    const qkv = rng.tensorNormal([3, 2, 3, 5, 4]);
    const [q, k, v] = tf.unstack(qkv);
    const mask = rng.tensorNormal([1, 3, 5, 5]);
    const got = [multiHeadAttentionStacked(qkv), multiHeadAttentionStacked(qkv, mask, 0.3)];
    const want = [multiHeadAttention(q!, k!, v!), multiHeadAttention(q!, k!, v!, mask, 0.3)];
    for (let i = 0; i < 2; i++) await expectClose(got[i]!, want[i]!, { atol: 1e-6, rtol: 1e-6, name: i ? 'masked' : 'plain' });
    expect(() => multiHeadAttentionStacked(q!)).toThrow(/\[3, B, heads, N, d\]/);
    tf.dispose([qkv, q!, k!, v!, mask, ...got, ...want]);
  });
});
