import { expect } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@hgm/tensor';
import { describeBackends, expectClose } from '@hgm/tensor/testing';
import { transformerMlp } from './transformer-mlp';
import { gelu } from './activations';

/** fc2(gelu(fc1(x))) on the host, float64, exact-erf GELU through tfjs-independent series. */
function hostMlp(
  x: Float32Array,
  rows: number,
  w1: Float32Array,
  b1: Float32Array,
  w2: Float32Array,
  b2: Float32Array,
  dims: [number, number, number],
): Float32Array {
  const [inDim, hidden, outDim] = dims;
  const erf = (z: number): number => {
    // Abramowitz-Stegun 7.1.26 is too coarse; use the Taylor series (|z| is small here).
    let sum = 0;
    let term = z;
    for (let n = 0; n < 60; n++) {
      sum += term / (2 * n + 1);
      term *= (-z * z) / (n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  };
  const y = new Float32Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    const h = new Float64Array(hidden);
    for (let j = 0; j < hidden; j++) {
      let s = b1[j]!;
      for (let i = 0; i < inDim; i++) s += x[r * inDim + i]! * w1[j * inDim + i]!;
      h[j] = 0.5 * s * (1 + erf(s / Math.SQRT2));
    }
    for (let o = 0; o < outDim; o++) {
      let s = b2[o]!;
      for (let j = 0; j < hidden; j++) s += h[j]! * w2[o * hidden + j]!;
      y[r * outDim + o] = s;
    }
  }
  return y;
}

describeBackends('transformerMlp', ({ it }) => {
  it('equals fc2(gelu(fc1(x))) for a batched input, and keeps no tensor', async () => {
    const rng = new Rng(31);
    const [inDim, hidden, outDim] = [6, 32, 5];
    const xs = rng.normalArray(2 * 3 * inDim);
    const w1 = rng.normalArray(hidden * inDim, 0, 0.4);
    const b1 = rng.normalArray(hidden, 0, 0.1);
    const w2 = rng.normalArray(outDim * hidden, 0, 0.2);
    const b2 = rng.normalArray(outDim, 0, 0.1);
    const t = {
      x: tf.tensor3d(xs, [2, 3, inDim]),
      w1: tf.tensor2d(w1, [hidden, inDim]),
      b1: tf.tensor1d(b1),
      w2: tf.tensor2d(w2, [outDim, hidden]),
      b2: tf.tensor1d(b2),
    };
    const before = tf.memory().numTensors;
    const y = transformerMlp(t.x, { weight: t.w1, bias: t.b1 }, gelu, { weight: t.w2, bias: t.b2 });
    expect(tf.memory().numTensors - before).toBe(1);
    expect(y.shape).toEqual([2, 3, outDim]);
    await expectClose(y, hostMlp(xs, 6, w1, b1, w2, b2, [inDim, hidden, outDim]), { atol: 1e-5, rtol: 1e-5, name: 'mlp' });
    tf.dispose([y, ...Object.values(t)]);
  });

  it('works without biases and names the shapes that do not chain', async () => {
    const rng = new Rng(32);
    const x = rng.tensorNormal([4, 3]);
    const w1 = rng.tensorNormal([16, 3]);
    const w2 = rng.tensorNormal([2, 16]);
    const y = transformerMlp(x, { weight: w1 }, tf.relu, { weight: w2 });
    const want = tf.matMul(tf.relu(tf.matMul(x, w1, false, true)), w2, false, true);
    await expectClose(y, want, { atol: 1e-5, rtol: 1e-5, name: 'no bias' });
    const bad = rng.tensorNormal([2, 15]);
    expect(() => transformerMlp(x, { weight: w1 }, tf.relu, { weight: bad })).toThrow(/do not chain|inner|shape/i);
    tf.dispose([x, w1, w2, y, want, bad]);
  });

  it('has the gradients of the plain formulation', async () => {
    const rng = new Rng(33);
    const [x, w1, b1, w2, b2] = [
      rng.tensorNormal([2, 3, 4]),
      rng.tensorNormal([16, 4]),
      rng.tensorNormal([16]),
      rng.tensorNormal([3, 16]),
      rng.tensorNormal([3]),
    ];
    const plain = (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor, e: tf.Tensor, f: tf.Tensor) =>
      tf.add(tf.matMul(tf.reshape(gelu(tf.add(tf.matMul(tf.reshape(a, [6, 4]), c, false, true), d)), [6, 16]), e, false, true), f);
    const loss = (y: tf.Tensor) => tf.sum(tf.square(tf.reshape(y, [-1])));
    const got = tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor, e: tf.Tensor, f: tf.Tensor) =>
      loss(transformerMlp(a, { weight: c, bias: d }, gelu, { weight: e, bias: f })),
    )([x, w1, b1, w2, b2]);
    const want = tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor, e: tf.Tensor, f: tf.Tensor) => loss(plain(a, c, d, e, f)))([x, w1, b1, w2, b2]);
    for (let i = 0; i < 5; i++) await expectClose(got[i]!, want[i]!, { atol: 1e-3, rtol: 1e-4, name: ['dx', 'dW1', 'db1', 'dW2', 'db2'][i]! });
    tf.dispose([x, w1, b1, w2, b2, ...got, ...want]);
  });

  // On webgpu a hidden layer larger than one storage binding is computed in blocks of rows; a small
  // maxHiddenBytes runs that path at test size (wasm has no such limit and ignores it).
  it('splits the rows where the hidden layer exceeds maxHiddenBytes, with the same values and gradients', async () => {
    const rng = new Rng(34);
    const [inDim, hidden, outDim] = [5, 16, 3];
    const xs = rng.normalArray(7 * inDim);
    const w1 = rng.normalArray(hidden * inDim, 0, 0.4);
    const b1 = rng.normalArray(hidden, 0, 0.1);
    const w2 = rng.normalArray(outDim * hidden, 0, 0.2);
    const b2 = rng.normalArray(outDim, 0, 0.1);
    const t = [tf.tensor3d(xs, [1, 7, inDim]), tf.tensor2d(w1, [hidden, inDim]), tf.tensor1d(b1), tf.tensor2d(w2, [outDim, hidden]), tf.tensor1d(b2)] as const;
    // 2 rows per block: blocks of 2, 2, 2 and 1 rows
    const twoRows = 2 * 4 * hidden;
    const before = tf.memory().numTensors;
    const y = transformerMlp(t[0], { weight: t[1], bias: t[2] }, gelu, { weight: t[3], bias: t[4] }, twoRows);
    expect(tf.memory().numTensors - before).toBe(1);
    expect(y.shape).toEqual([1, 7, outDim]);
    await expectClose(y, hostMlp(xs, 7, w1, b1, w2, b2, [inDim, hidden, outDim]), { atol: 1e-5, rtol: 1e-5, name: 'split mlp' });
    const loss = (limit: number) => (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor, e: tf.Tensor, f: tf.Tensor) =>
      tf.sum(tf.square(transformerMlp(a, { weight: c, bias: d }, gelu, { weight: e, bias: f }, limit)));
    const got = tf.grads(loss(twoRows))([...t]);
    const want = tf.grads(loss(Infinity))([...t]);
    for (let i = 0; i < 5; i++) await expectClose(got[i]!, want[i]!, { atol: 1e-4, rtol: 1e-4, name: ['dx', 'dW1', 'db1', 'dW2', 'db2'][i]! });
    tf.dispose([y, ...t, ...got, ...want]);
  });
});
