import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { radixSortKeys } from './radix-sort';
import { floatKey, keyToFloat } from './float-key';
import { pairwiseSum } from './pairwise-sum';

describe('sorting keys', () => {
  it('radix sort equals a comparison sort and carries the payload stably', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 2000 }), (xs) => {
        const keys = Uint32Array.from(xs.map((x) => x >>> 0));
        const payload = Uint32Array.from(xs.keys());
        radixSortKeys(keys, payload);
        const expected = xs.map((x, i) => [x >>> 0, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        expect(Array.from(keys)).toEqual(expected.map((e) => e[0]));
        expect(Array.from(payload)).toEqual(expected.map((e) => e[1]));
      }),
      { numRuns: 50 },
    );
  });
  it('float keys preserve float32 order, and -0 equals +0', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true }), fc.float({ noNaN: true }), (a, b) => {
        expect(Math.sign(floatKey(a) - floatKey(b))).toBe(Math.sign(Math.fround(a) - Math.fround(b)));
        if (Number.isFinite(a)) expect(keyToFloat(floatKey(a))).toBe(Math.fround(a) === 0 ? 0 : Math.fround(a));
      }),
    );
    expect(floatKey(-0)).toBe(floatKey(0));
  });
  it('pairwise summation is close to the exact sum', () => {
    const xs = Float64Array.from({ length: 10_000 }, (_, i) => 1 / (i + 1));
    let exact = 0;
    for (let i = xs.length - 1; i >= 0; i--) exact += xs[i]!;
    expect(Math.abs(pairwiseSum(xs) - exact)).toBeLessThan(1e-13);
  });
});
