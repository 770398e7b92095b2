import type { HostTensor } from '@hgm/tensor';
import { ConfigError, ShapeError } from '@hgm/tensor';

/**
 * Tensor transforms of a checkpoint conversion, as data. Key templates may hold `{n}` (a block index,
 * matched as digits); a transform applies once per index found in the checkpoint. Inputs are consumed
 * (they do not go through the rename rules); outputs are already in the target format.
 */
export type TensorTransform = ConcatTransform | SplitTransform | TransposeTransform | ReshapeTransform | QkvBiasMaskTransform | RopePeriodsTransform;

/** An input of a concat: a key template, or one that may be absent and then counts as zeros shaped like the first input. */
export type ConcatInput = string | { key: string; ifAbsent: 'zeros' };

/** Concatenates tensors along axis 0 (q, k, v projections into one `[3D, D]` matrix). */
export interface ConcatTransform {
  op: 'concat';
  inputs: readonly ConcatInput[];
  output: string;
}

/**
 * An output of a split: a key template, or one that is not emitted when the mask is present (a bias part
 * the mask zeroes; reading a sibling output checks that the mask really is zero there).
 */
export type SplitOutput = string | { key: string; dropWhenMasked: true };

/** Splits a tensor into equal parts along axis 0, optionally multiplied first by a same-shaped mask (consumed). */
export interface SplitTransform {
  op: 'split';
  input: string;
  /** Multiply the input by this tensor (when present) before splitting; the mask key is consumed. */
  mask?: string;
  outputs: readonly SplitOutput[];
}

/** Transposes a 2-D tensor (`[out, in]` Linear weight to an `[in, out]` projection and back). */
export interface TransposeTransform {
  op: 'transpose';
  input: string;
  output: string;
}

/** Reshapes without moving data; `-1` takes the remaining size. */
export interface ReshapeTransform {
  op: 'reshape';
  input: string;
  output: string;
  shape: readonly number[];
}

/**
 * Makes the dinov3 `qkv.bias_mask` buffer (`[3D]`: 1 for q and v, 0 for k) when the checkpoint has no
 * key bias (`absent`), from the size of a `[D]` tensor (`like`).
 */
export interface QkvBiasMaskTransform {
  op: 'qkv-bias-mask';
  like: string;
  absent: string;
  output: string;
}

/**
 * Makes the dinov3 `rope_embed.periods` buffer (`[headDim / 4]`, `base ** (4 i / headDim)`) from the
 * embedding width (last axis of `like`), the head count and the RoPE base of the conversion context.
 */
export interface RopePeriodsTransform {
  op: 'rope-periods';
  like: string;
  output: string;
}

/** Facts a conversion may need that the tensor names and shapes do not tell. */
export interface ConversionContext {
  /** Attention heads (dinov3: to rebuild `rope_embed.periods`). */
  numHeads?: number;
  /** RoPE base (dinov3; default 100, the value of every released model). */
  ropeBase?: number;
}

/** Concatenates float tensors along axis 0. @returns [sum of dim 0, ...rest] */
export function concatAxis0(parts: readonly HostTensor[], what: string): HostTensor {
  const first = parts[0];
  if (!first) throw new ShapeError(`${what}: nothing to concatenate`);
  const rest = first.shape.slice(1);
  let rows = 0;
  for (const p of parts) {
    if (p.shape.length !== first.shape.length || !p.shape.slice(1).every((d, i) => d === rest[i])) {
      throw new ShapeError(`${what}: cannot concatenate shapes [${first.shape.join(', ')}] and [${p.shape.join(', ')}] along axis 0`);
    }
    rows += p.shape[0]!;
  }
  const out = new Float32Array(parts.reduce((a, p) => a + p.data.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p.data as Float32Array, at);
    at += p.data.length;
  }
  return { dtype: 'float32', shape: [rows, ...rest], data: out };
}

/** Splits along axis 0 into `parts` equal pieces (copies). @returns parts of [dim0 / parts, ...rest] */
export function splitAxis0(t: HostTensor, parts: number, what: string): HostTensor[] {
  const rows = t.shape[0];
  if (rows === undefined || rows % parts !== 0) {
    throw new ShapeError(`${what}: cannot split shape [${t.shape.join(', ')}] into ${parts} equal parts along axis 0`);
  }
  const size = t.data.length / parts;
  const out: HostTensor[] = [];
  for (let i = 0; i < parts; i++) {
    out.push({ dtype: 'float32', shape: [rows / parts, ...t.shape.slice(1)], data: (t.data as Float32Array).slice(i * size, (i + 1) * size) });
  }
  return out;
}

/** Transposes a 2-D tensor. @returns [cols, rows] */
export function transpose2d(t: HostTensor, what: string): HostTensor {
  if (t.shape.length !== 2) throw new ShapeError(`${what}: transpose needs a 2-D tensor, found shape [${t.shape.join(', ')}]`);
  const [r, c] = t.shape as [number, number];
  const src = t.data as Float32Array;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) {
    const row = i * c;
    for (let j = 0; j < c; j++) out[j * r + i] = src[row + j]!;
  }
  return { dtype: 'float32', shape: [c, r], data: out };
}

/** Resolves a target shape with at most one -1 against an element count. */
export function resolveShape(shape: readonly number[], numel: number, what: string): number[] {
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const free = shape.filter((d) => d === -1).length;
  if (free > 1) throw new ShapeError(`${what}: reshape target [${shape.join(', ')}] has more than one -1`);
  const out = shape.map((d) => (d === -1 ? numel / known : d));
  const total = out.reduce((a, b) => a * b, 1);
  if (total !== numel || out.some((d) => !Number.isInteger(d))) {
    throw new ShapeError(`${what}: cannot reshape ${numel} elements to [${shape.join(', ')}]`);
  }
  return out;
}

/** Multiplies element by element (bias by its mask). */
export function multiplyHost(a: HostTensor, b: HostTensor, what: string): HostTensor {
  if (a.data.length !== b.data.length) {
    throw new ShapeError(`${what}: mask of shape [${b.shape.join(', ')}] does not match tensor of shape [${a.shape.join(', ')}]`);
  }
  const out = new Float32Array(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = a.data[i]! * b.data[i]!;
  return { dtype: 'float32', shape: [...a.shape], data: out };
}

/** The dinov3 bias mask for width D. @returns [3D]: ones, zeros, ones */
export function qkvBiasMask(width: number): HostTensor {
  const data = new Float32Array(3 * width).fill(1);
  data.fill(0, width, 2 * width);
  return { dtype: 'float32', shape: [3 * width], data };
}

/**
 * dinov3 RoPE periods (`RopePositionEmbedding` with a base, no min/max period):
 * `base ** (2 i / (headDim / 2))` for i in [0, headDim / 4), computed in float64 then rounded to float32,
 * as transformers' `DINOv3ViTRopePositionEmbedding` does at run time. Not rounded to bfloat16: a checkpoint
 * that stores bf16-rounded periods (Meta's .pth) keeps its own; these are only for HF weights, which store
 * none (see the DINOv3 conversions).
 * @returns [headDim / 4]
 */
export function ropePeriods(width: number, numHeads: number, base: number): HostTensor {
  if (!Number.isInteger(numHeads) || numHeads <= 0 || width % numHeads !== 0 || (width / numHeads) % 4 !== 0) {
    throw new ConfigError(`rope periods: width ${width} with ${numHeads} heads does not give a head size divisible by 4`);
  }
  const headDim = width / numHeads;
  const n = headDim / 4;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = base ** ((2 * i) / (headDim / 2));
  return { dtype: 'float32', shape: [n], data };
}

/** True when every element is zero. */
export function allZero(t: HostTensor): boolean {
  for (let i = 0; i < t.data.length; i++) if (t.data[i] !== 0) return false;
  return true;
}
