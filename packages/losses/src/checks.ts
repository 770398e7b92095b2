import type * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@hgm/tensor';

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Throws unless `x` has rank `rank`; `what` names the input and its expected layout. */
export function checkRank(loss: string, input: string, x: tf.Tensor, rank: number, layout: string): void {
  if (x.rank !== rank) {
    throw new ShapeError(`${loss}: ${input} must have rank ${rank} (${layout}), found shape ${shapeText(x.shape)}`, {
      input,
      expected: `rank ${rank} (${layout})`,
      found: shapeText(x.shape),
    });
  }
}

/** Throws unless `x` has rank at least `rank`. */
export function checkMinRank(loss: string, input: string, x: tf.Tensor, rank: number, layout: string): void {
  if (x.rank < rank) {
    throw new ShapeError(`${loss}: ${input} must have rank >= ${rank} (${layout}), found shape ${shapeText(x.shape)}`, {
      input,
      expected: `rank >= ${rank} (${layout})`,
      found: shapeText(x.shape),
    });
  }
}

/** Throws unless the two shapes are equal. */
export function checkSameShape(loss: string, aName: string, a: readonly number[], bName: string, b: readonly number[]): void {
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
    throw new ShapeError(`${loss}: ${bName} has shape ${shapeText(b)}, expected the shape of ${aName} ${shapeText(a)}`, {
      input: bName,
      expected: shapeText(a),
      found: shapeText(b),
    });
  }
}

/** Throws unless `x` is a floating-point tensor. */
export function checkFloat(loss: string, input: string, x: tf.Tensor): void {
  if (x.dtype !== 'float32') throw new ShapeError(`${loss}: ${input} must be float32, found ${x.dtype}`, { input, expected: 'float32', found: x.dtype });
}

/** Throws unless `value` is a finite number in [min, max] (bounds included unless told). */
export function checkNumber(
  where: string,
  field: string,
  value: unknown,
  range: { min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean } = {},
): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ConfigError(`${where}: ${field} must be a finite number, found ${JSON.stringify(value)}`);
  }
  const { min, max, minExclusive, maxExclusive } = range;
  if (min !== undefined && (minExclusive ? value <= min : value < min)) {
    throw new ConfigError(`${where}: ${field} must be ${minExclusive ? '>' : '>='} ${min}, found ${value}`);
  }
  if (max !== undefined && (maxExclusive ? value >= max : value > max)) {
    throw new ConfigError(`${where}: ${field} must be ${maxExclusive ? '<' : '<='} ${max}, found ${value}`);
  }
  return value;
}

/** Throws when `partial` holds a key that `defaults` does not know (a misspelled option). */
export function checkKnownKeys(where: string, partial: object, defaults: object): void {
  for (const key of Object.keys(partial)) {
    if (!(key in defaults)) {
      throw new ConfigError(`${where}: unknown option ${JSON.stringify(key)} (known: ${Object.keys(defaults).join(', ')})`);
    }
  }
}

/** Throws on an unknown option (see {@link checkKnownKeys}), then fills the defaults: `{ ...defaults, ...partial }`. */
export function withDefaults<T extends object>(where: string, defaults: Readonly<T>, partial: Partial<T>): T {
  checkKnownKeys(where, partial, defaults);
  return { ...defaults, ...partial } as T;
}
