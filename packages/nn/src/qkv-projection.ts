import * as tf from '@tensorflow/tfjs-core';
import { linear } from './linear';
import { splitHeads } from './attention';
import { gatherRow } from './unstack-rows';
import { matMulFast, stackFirst } from './wasm-gradients';
import { ShapeError } from '@hgm/tensor';

/** Queries, keys and values split into heads. */
export interface QkvHeads {
  /** [B, heads, N, d] */
  q: tf.Tensor4D;
  /** [B, heads, N, d] */
  k: tf.Tensor4D;
  /** [B, heads, N, d] */
  v: tf.Tensor4D;
}

/**
 * The fused input projection of self-attention, `x Wᵀ + b` with W = [Wq; Wk; Wv] ([3C, C], PyTorch layout,
 * as `attn.qkv` / `in_proj_weight`), split into q, k, v and into heads (`splitHeads` of each third).
 *
 * On wasm (tfjs 4.22) each image's product is computed transposed, `W xᵀ + b` ([3C, N], the weight as the
 * left operand: the XNNPACK path, no weight copy), and one rank-4 transpose of [3, heads, d, N] gives every
 * head's [N, d] block; this avoids the transposed-weight matMul, the split of the interleaved last axis and
 * three head transposes, which the wasm kernels run slowly. Other backends use {@link linear}, `tf.split`
 * and {@link splitHeads}. Same values up to float rounding.
 *
 * @param x [B, N, C]
 * @param weight [3C, C]
 * @param bias [3C] or undefined
 * @param heads number of heads (C divisible by it)
 */
export function qkvProjection(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor | undefined, heads: number): QkvHeads {
  const [b, n, c] = checkQkv(x, weight, heads, 'qkvProjection');
  if (tf.getBackend() !== 'wasm') {
    return tf.tidy(() => {
      const [q, k, v] = tf.split(linear(x, weight, bias), 3, 2);
      return { q: splitHeads(q!, heads), k: splitHeads(k!, heads), v: splitHeads(v!, heads) };
    });
  }
  return tf.tidy(() => {
    const all = qkvProjectionStacked(x, weight, bias, heads);
    const part = (j: number) => tf.reshape(tf.slice(all, [j, 0, 0, 0, 0], [1, b, heads, n, c / heads]), [b, heads, n, c / heads]) as tf.Tensor4D;
    return { q: part(0), k: part(1), v: part(2) };
  });
}

/**
 * The fused input projection of self-attention with q, k, v stacked in head layout: `x Wᵀ + b` ([B, N, 3C])
 * as [3, B, heads, N, d] (part, image, head, token, channel). On wasm computed as in {@link qkvProjection}
 * without the final split (a slice copies its whole input there); elsewhere {@link linear}, a reshape
 * and one transpose. Same values up to float rounding.
 *
 * @param x [B, N, C]
 * @param weight [3C, C]
 * @param bias [3C] or undefined
 * @returns [3, B, heads, N, C / heads]
 */
export function qkvProjectionStacked(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor | undefined, heads: number): tf.Tensor {
  const [b, n, c] = checkQkv(x, weight, heads, 'qkvProjectionStacked');
  const d = c / heads;
  if (tf.getBackend() !== 'wasm') {
    return tf.tidy(() => tf.transpose(tf.reshape(linear(x, weight, bias), [b, n, 3, heads, d]), [2, 0, 3, 1, 4]));
  }
  return tf.tidy(() => {
    const biasColumn = bias ? tf.reshape(bias, [3 * c, 1]) : undefined;
    const perImage: tf.Tensor[] = [];
    for (let i = 0; i < b; i++) {
      const xi = b === 1 ? tf.reshape(x, [n, c]) : tf.reshape(gatherRow(tf.reshape(x, [b, n * c]), i), [n, c]);
      let yT: tf.Tensor = matMulFast(weight as tf.Tensor2D, tf.transpose(xi) as tf.Tensor2D);
      if (biasColumn) yT = tf.add(yT, biasColumn);
      // [3C, N] = [3, heads, d, N] -> [3, heads, N, d]
      perImage.push(tf.transpose(tf.reshape(yT, [3, heads, d, n]), [0, 1, 3, 2]));
    }
    // stacked along a new first axis, then moved (the gradient of a stack along axis 1 is slow there)
    return b === 1 ? tf.reshape(perImage[0]!, [3, 1, heads, n, d]) : tf.transpose(stackFirst(perImage), [1, 0, 2, 3, 4]);
  });
}

function checkQkv(x: tf.Tensor, weight: tf.Tensor, heads: number, who: string): [number, number, number] {
  if (x.rank !== 3)
    throw new ShapeError(`${who}: x must be [B, N, C], found [${x.shape.join(', ')}]`, { input: 'x', expected: '[B, N, C]', found: `[${x.shape.join(', ')}]` });
  const [b, n, c] = x.shape as [number, number, number];
  if (weight.rank !== 2 || weight.shape[0] !== 3 * c || weight.shape[1] !== c) {
    throw new ShapeError(`${who}: weight must be [3C, C] = [${3 * c}, ${c}] for width ${c}, found [${weight.shape.join(', ')}]`, {
      input: 'weight',
      expected: `[${3 * c}, ${c}]`,
      found: `[${weight.shape.join(', ')}]`,
    });
  }
  if (c % heads !== 0)
    throw new ShapeError(`${who}: width ${c} is not divisible by ${heads} heads`, { input: 'x', expected: `a width divisible by ${heads}`, found: `${c}` });
  return [b, n, c];
}
