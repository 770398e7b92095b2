import * as tf from '@tensorflow/tfjs-core';
import type { HostTensor } from '@hgm/tensor';
import { compareClose } from '@hgm/tensor/testing';

/** One compared output: what `npm run parity` prints per row. */
export interface ParityRow {
  name: string;
  shape: number[];
  maxAbsError: number;
  maxRelError: number;
  ok: boolean;
  /** Why it failed, when it failed for a reason other than tolerance (missing output, shape). */
  note?: string;
}

export interface Tolerance {
  atol: number;
  rtol: number;
}

export const DEFAULT_TOLERANCE: Tolerance = { atol: 1e-4, rtol: 1e-4 };

/** Compares one produced tensor (or array) with a fixture tensor. Shapes must match exactly. */
export async function compareOutput(
  name: string,
  actual: tf.Tensor | { shape: number[]; data: ArrayLike<number> } | undefined,
  expected: HostTensor | { shape: number[]; data: ArrayLike<number> },
  tol: Tolerance = DEFAULT_TOLERANCE,
): Promise<ParityRow> {
  if (actual === undefined) {
    return { name, shape: expected.shape, maxAbsError: NaN, maxRelError: NaN, ok: false, note: 'no counterpart produced' };
  }
  const aShape = actual instanceof tf.Tensor ? [...actual.shape] : actual.shape;
  if (aShape.length !== expected.shape.length || aShape.some((d, i) => d !== expected.shape[i])) {
    return {
      name,
      shape: expected.shape,
      maxAbsError: NaN,
      maxRelError: NaN,
      ok: false,
      note: `shape [${aShape.join(', ')}], expected [${expected.shape.join(', ')}]`,
    };
  }
  const data = actual instanceof tf.Tensor ? await actual.data() : actual.data;
  const r = compareClose(data as ArrayLike<number>, expected.data as ArrayLike<number>, tol);
  return { name, shape: expected.shape, maxAbsError: r.maxAbsError, maxRelError: r.maxRelError, ok: r.ok };
}

/** Compares exact values (integers, token ids, strings). */
export function compareExact(
  name: string,
  actual: readonly unknown[] | undefined,
  expected: readonly unknown[],
  shape: number[] = [expected.length],
): ParityRow {
  if (actual === undefined) return { name, shape, maxAbsError: NaN, maxRelError: NaN, ok: false, note: 'no counterpart produced' };
  let mismatches = 0;
  const n = Math.max(actual.length, expected.length);
  for (let i = 0; i < n; i++) if (JSON.stringify(actual[i]) !== JSON.stringify(expected[i])) mismatches++;
  return {
    name,
    shape,
    maxAbsError: mismatches === 0 ? 0 : NaN,
    maxRelError: mismatches === 0 ? 0 : NaN,
    ok: mismatches === 0,
    ...(mismatches ? { note: `${mismatches} of ${n} differ` } : {}),
  };
}

/** Compares two scalars (e.g. a metric value) with an absolute and relative tolerance. */
export function compareScalar(name: string, actual: number | undefined, expected: number, tol: Tolerance): ParityRow {
  if (actual === undefined) return { name, shape: [], maxAbsError: NaN, maxRelError: NaN, ok: false, note: 'no counterpart produced' };
  const r = compareClose([actual], [expected], tol);
  return { name, shape: [], maxAbsError: r.maxAbsError, maxRelError: r.maxRelError, ok: r.ok };
}
