import { expect } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@hgm/tensor';
import { describeBackends, maxRelativeError } from '@hgm/tensor/testing';
import { matMulFast, matMulTransposedB, oneHotRow, stackFirst } from './wasm-gradients';
import { recomputeInBackward } from './recompute';
import { linear } from './linear';
import { transformerMlp } from './transformer-mlp';
import { quickGelu } from './activations';

/** The gradients of `sum(f(xs) * dy)` (read with `data()`: webgpu has no synchronous read in Node). */
async function gradsOf(f: (xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], dy: tf.Tensor): Promise<Float32Array[]> {
  const g = tf.grads((...a: tf.Tensor[]) => f(a))(xs, dy);
  const out = await Promise.all(g.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose(g);
  return out;
}

describeBackends('gradients built for the wasm kernels', ({ it }) => {
  it('matMulFast, oneHotRow and stackFirst have the values and gradients of matMul, slice and stack', async () => {
    const rng = new Rng(5);
    const before = tf.memory().numTensors;
    const a = rng.tensorNormal([6, 7]) as tf.Tensor2D;
    const b = rng.tensorNormal([7, 5]) as tf.Tensor2D;
    const dy = rng.tensorNormal([6, 5]);
    const fast = await gradsOf(([x, y]) => matMulFast(x as tf.Tensor2D, y as tf.Tensor2D), [a, b], dy);
    const plain = await gradsOf(([x, y]) => tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D), [a, b], dy);
    fast.forEach((g, i) => expect(maxRelativeError(g, plain[i]!)).toBeLessThan(1e-6));
    // a frozen operand gets no gradient; the other one the same as before
    const frozen = tf.variable(b, false);
    const onlyA = await gradsOf(([x]) => matMulFast(x as tf.Tensor2D, frozen), [a], dy);
    expect(maxRelativeError(onlyA[0]!, plain[0]!)).toBeLessThan(1e-6);
    const row = rng.tensorNormal([1, 7]);
    expect(
      maxRelativeError(
        (await gradsOf(([x]) => oneHotRow(x as tf.Tensor2D, 4), [a], row))[0]!,
        (await gradsOf(([x]) => tf.slice(x!, [4, 0], [1, 7]), [a], row))[0]!,
      ),
    ).toBe(0);
    const parts = [rng.tensorNormal([2, 3]), rng.tensorNormal([2, 3]), rng.tensorNormal([2, 3])];
    const dStack = rng.tensorNormal([3, 2, 3]);
    const s1 = await gradsOf((xs) => stackFirst(xs), parts, dStack);
    const s2 = await gradsOf((xs) => tf.stack(xs), parts, dStack);
    s1.forEach((g, i) => expect(maxRelativeError(g, s2[i]!)).toBe(0));
    tf.dispose([a, b, dy, frozen, row, dStack, ...parts]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a linear layer and an MLP with frozen weights give the input gradient of plain tfjs (1e-5 relative)', async () => {
    const rng = new Rng(6);
    const x = rng.tensorNormal([2, 5, 8]);
    const w1 = tf.variable(rng.tensorNormal([16, 8]), false);
    const b1 = tf.variable(rng.tensorNormal([16]), false);
    const w2 = tf.variable(rng.tensorNormal([8, 16]), false);
    const b2 = tf.variable(rng.tensorNormal([8]), false);
    const dy = rng.tensorNormal([2, 5, 8]);
    const reference = ([t]: tf.Tensor[]) => tf.add(tf.matMul(quickGelu(tf.add(tf.matMul(t!, w1, false, true), b1)), w2, false, true), b2);
    const want = (await gradsOf(reference, [x], dy))[0]!;
    expect(
      maxRelativeError((await gradsOf(([t]) => transformerMlp(t!, { weight: w1, bias: b1 }, quickGelu, { weight: w2, bias: b2 }), [x], dy))[0]!, want),
    ).toBeLessThan(1e-5);
    expect(
      maxRelativeError(
        (await gradsOf(([t]) => linear(linear(t!, w1, b1), w2, b2), [x], dy))[0]!,
        (await gradsOf(([t]) => tf.add(tf.matMul(tf.add(tf.matMul(t!, w1, false, true), b1), w2, false, true), b2), [x], dy))[0]!,
      ),
    ).toBeLessThan(1e-5);
    tf.dispose([x, w1, b1, w2, b2, dy]);
  });

  it('recomputeInBackward gives the gradient of the plain function, keeps only its inputs, and frees the rest', async () => {
    const rng = new Rng(7);
    const w = tf.variable(rng.tensorNormal([8, 8]), false);
    const block = ([x, c]: tf.Tensor[], [m]: tf.Tensor[]) => tf.tanh(tf.add(tf.mul(tf.matMul(tf.add(x!, c!), w), m!), x!));
    const x = rng.tensorNormal([4, 8]);
    const c = rng.tensorNormal([4, 8]);
    const mask = rng.tensorUniform([4, 8]);
    const dy = rng.tensorNormal([4, 8]);
    const before = tf.memory().numTensors;
    const chain = (f: typeof block) => (xs: tf.Tensor[]) => {
      let h = xs[0]!;
      for (let i = 0; i < 3; i++) h = f([h, xs[1]!], [mask]);
      return h;
    };
    const want = await gradsOf(chain(block), [x, c], dy);
    const got = await gradsOf(
      chain((xs, cs) => recomputeInBackward(block)(xs, cs)),
      [x, c],
      dy,
    );
    got.forEach((g, i) => expect(maxRelativeError(g, want[i]!)).toBeLessThan(1e-6));
    // (webgpu frees some of its own small tensors meanwhile: no more than before is what matters)
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
    // nested in an outer gradient (an optimiser's variableGrads): the outer tape survives the inner one
    const start = rng.tensorNormal([4, 8]);
    const v = tf.variable(start);
    start.dispose();
    const r = tf.variableGrads(() => tf.sum(chain((xs, cs) => recomputeInBackward(block)(xs, cs))([v, c])) as tf.Scalar, [v]);
    const direct = tf.variableGrads(() => tf.sum(chain(block)([v, c])) as tf.Scalar, [v]);
    expect(maxRelativeError(await r.grads[v.name]!.data(), await direct.grads[v.name]!.data())).toBeLessThan(1e-6);
    tf.dispose([r.value, direct.value, ...Object.values(r.grads), ...Object.values(direct.grads)]);
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before + 1);
    tf.dispose([w, x, c, mask, dy, v]);
  });

  it('matMulTransposedB gives a @ bᵀ (batched), and under a tape the gradients of matMul(a, b, false, true)', async () => {
    const rng = new Rng(9);
    const a = rng.tensorNormal([2, 6, 7]) as tf.Tensor3D;
    const b = rng.tensorNormal([2, 5, 7]) as tf.Tensor3D;
    const dy = rng.tensorNormal([2, 6, 5]);
    const before = tf.memory().numTensors;
    const got = matMulTransposedB(a, b);
    const want = tf.matMul(a, b, false, true);
    expect(got.shape).toEqual([2, 6, 5]);
    expect(maxRelativeError((await got.data()) as Float32Array, (await want.data()) as Float32Array)).toBeLessThan(1e-6);
    tf.dispose([got, want]);
    expect(tf.memory().numTensors).toBe(before);
    const g = await gradsOf(([x, y]) => matMulTransposedB(x as tf.Tensor3D, y as tf.Tensor3D), [a, b], dy);
    const plain = await gradsOf(([x, y]) => tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D, false, true), [a, b], dy);
    g.forEach((x, i) => expect(maxRelativeError(x, plain[i]!)).toBeLessThan(1e-6));
    tf.dispose([a, b, dy]);
  });
});
