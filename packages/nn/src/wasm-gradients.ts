/**
 * Gradients that tfjs-backend-wasm runs fast. Its matMul is fast only untransposed (`transposeA` and
 * `transposeB` false: XNNPACK); tfjs's gradient of `matMul(a, b)` asks for `matMul(dy, b, false, true)` and
 * `matMul(a, dy, true, false)`, which run about a hundred times slower there, and the gradient of `tf.stack` is
 * an unstack whose slices each copy the whole input. The forward passes of the wasm paths of this package
 * (`linear`, `transformerMlp`, `qkvProjection`, attention) are built from these functions, whose gradients use
 * untransposed products and explicit transposes only. On other backends they are the plain tfjs ops.
 */
import * as tf from '@tensorflow/tfjs-core';
import { transposeMatrix } from './transpose-matrix';

/** True where the tensor cannot receive a gradient an optimiser asks for: a variable marked not trainable. */
function isFrozen(t: tf.Tensor): boolean {
  return t instanceof tf.Variable && !t.trainable;
}

/** `tf.customGrad` over tensor arguments: `forward(xs)` and `backward(dy, xs)` (one gradient per argument). */
function withGradient(xs: tf.Tensor[], forward: (xs: tf.Tensor[]) => tf.Tensor, backward: (dy: tf.Tensor, xs: tf.Tensor[]) => tf.Tensor[]): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const inputs = args.slice(0, xs.length) as tf.Tensor[];
    (args[xs.length] as tf.GradSaveFunc)(inputs);
    return { value: forward(inputs), gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => backward(dy as tf.Tensor, saved) };
  });
  return f(...xs);
}

/**
 * `a @ b` for matrices, untransposed. On wasm its gradient is `dA = dY (B^T)`, `dB = ((dY^T) A)^T`, each an
 * untransposed product; a frozen variable (a backbone weight) gets no gradient at all, so the backward pass
 * of a frozen tower costs one product per product of its forward pass.
 */
export function matMulFast(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (tf.getBackend() !== 'wasm') return tf.matMul(a, b);
  const gradA = (dy: tf.Tensor, bb: tf.Tensor) => tf.matMul(dy as tf.Tensor2D, transposeMatrix(bb));
  const gradB = (dy: tf.Tensor, aa: tf.Tensor) => transposeMatrix(tf.matMul(transposeMatrix(dy), aa as tf.Tensor2D));
  const frozenA = isFrozen(a);
  const frozenB = isFrozen(b);
  if (frozenA && frozenB) return tf.matMul(a, b);
  if (frozenA)
    return withGradient(
      [b],
      ([x]) => tf.matMul(a, x as tf.Tensor2D),
      (dy) => [gradB(dy, a)],
    ) as tf.Tensor2D;
  if (frozenB)
    return withGradient(
      [a],
      ([x]) => tf.matMul(x as tf.Tensor2D, b),
      (dy) => [gradA(dy, b)],
    ) as tf.Tensor2D;
  return withGradient(
    [a, b],
    ([x, y]) => tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D),
    (dy, [x, y]) => [gradA(dy, y!), gradB(dy, x!)],
  ) as tf.Tensor2D;
}

/**
 * Row `i` of a matrix as a [1, L] matrix, as `oneHot(i) @ x` (on wasm, where a slice copies its whole input);
 * its gradient is the outer product `oneHot(i)^T dy` (an untransposed product) instead of a transposed one.
 */
export function oneHotRow(x: tf.Tensor2D, i: number): tf.Tensor2D {
  const n = x.shape[0];
  const oneHot = new Float32Array(n);
  oneHot[i] = 1;
  const row = (m: tf.Tensor) => tf.tidy(() => tf.matMul(tf.tensor2d(oneHot, [1, n]), m as tf.Tensor2D));
  if (isFrozen(x)) return row(x) as tf.Tensor2D;
  return withGradient(
    [x],
    ([m]) => row(m!),
    (dy) => [tf.tidy(() => tf.matMul(tf.tensor2d(oneHot, [n, 1]), dy as tf.Tensor2D))],
  ) as tf.Tensor2D;
}

/**
 * `tf.stack(xs)` (along a new first axis). On wasm its gradient takes the rows of `dy` with {@link oneHotRow}
 * instead of tfjs's unstack, whose slices each copy the whole of `dy`.
 */
export function stackFirst(xs: tf.Tensor[]): tf.Tensor {
  if (tf.getBackend() !== 'wasm' || xs.length === 1) return tf.stack(xs);
  const shape = xs[0]!.shape;
  return withGradient(
    xs,
    (inputs) => tf.stack(inputs),
    (dy) =>
      tf.tidy(() => {
        const flat = tf.reshape(dy, [xs.length, -1]) as tf.Tensor2D;
        return xs.map((_, i) => tf.reshape(oneHotRow(flat, i), shape));
      }),
  );
}

/**
 * `a @ bᵀ` over the last two axes (batched). Outside a gradient tape on wasm, where a product with a
 * transposed operand runs about 12x slower than a plain one ([1, 1024, 768] x [1, 128, 768]ᵀ: 198 ms, and
 * 16 ms with `b` transposed first), `b` is transposed first; elsewhere, and under a tape (whose backward pass
 * keeps the gradients it always had), it is `tf.matMul(a, b, false, true)`. The same values.
 */
export function matMulTransposedB<T extends tf.Tensor>(a: T, b: T): T {
  if (tf.getBackend() !== 'wasm' || tf.engine().isTapeOn()) return tf.matMul(a, b, false, true) as T;
  const r = b.rank;
  const perm = [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];
  return tf.tidy(() => tf.matMul(a, tf.transpose(b, perm))) as T;
}
