/**
 * Order-preserving map from float32 values to uint32 keys: `a < b` as floats iff `key(a) < key(b)` as unsigned
 * integers. `-0` gets the key of `+0`, so both compare equal as they do as floats. NaN must be rejected first.
 */

/** The key of a float32 bit pattern. */
export function bitsToKey(bits: number): number {
  if (bits === 0x80000000) return 0x80000000; // -0 -> +0
  return bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
}

/** The key of `Math.fround(x)`. */
export function floatKey(x: number): number {
  const f = new Float32Array([x]);
  return bitsToKey(new Uint32Array(f.buffer)[0]!);
}

/** The float32 value (as a number) of a key made by {@link floatKey}. */
export function keyToFloat(key: number): number {
  const u = new Uint32Array([key & 0x80000000 ? (key & 0x7fffffff) >>> 0 : ~key >>> 0]);
  return new Float32Array(u.buffer)[0]!;
}

/** Float32 values of keys (inverse of {@link floatKeysOf}). @returns [n] */
export function keysToFloats(keys: Uint32Array): Float32Array {
  const out = new Float32Array(keys.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    bits[i] = k & 0x80000000 ? (k & 0x7fffffff) >>> 0 : ~k >>> 0;
  }
  return out;
}

/** Keys of float32 values. @returns [n] */
export function floatKeysOf(values: Float32Array): Uint32Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint32Array(values.length);
  for (let i = 0; i < bits.length; i++) out[i] = bitsToKey(bits[i]!);
  return out;
}
