import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { resizeMaskNearest, resizePlanar } from './resize';

describe('resizePlanar (PIL-style separable resampling)', () => {
  it('is the identity at the same size', () => {
    const src = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => (i % 7) / 7);
    for (const interp of ['bicubic', 'bilinear'] as const) expect(Array.from(resizePlanar(src, 2, 3, 4, 3, 4, interp))).toEqual(Array.from(src));
  });

  it('keeps a constant image constant, up and down', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 20 }),
        fc.constantFrom('bicubic' as const, 'bilinear' as const),
        (h, w, oh, ow, interp) => {
          const out = resizePlanar(new Float32Array(h * w).fill(0.37), 1, h, w, oh, ow, interp);
          for (const v of out) expect(Math.abs(v - 0.37)).toBeLessThan(1e-6);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('bilinear 2x shrink uses the widened triangle filter (antialiasing)', () => {
    // Output pixel 0 of a 4 -> 2 shrink: centre 1.0, support 2, taps x = 0, 1, 2 with weights 0.75, 0.75, 0.25 (normalised by 1.75).
    const row = Float32Array.from([0.1, 0.2, 0.4, 0.8]);
    const out = resizePlanar(row, 1, 1, 4, 1, 2, 'bilinear');
    expect(out[0]).toBeCloseTo((0.75 * 0.1 + 0.75 * 0.2 + 0.25 * 0.4) / 1.75, 6);
    // Output pixel 1: centre 3.0, taps x = 1, 2, 3 with weights 0.25, 0.75, 0.75.
    expect(out[1]).toBeCloseTo((0.25 * 0.2 + 0.75 * 0.4 + 0.75 * 0.8) / 1.75, 6);
  });

  it('bicubic 2x enlargement matches Keys a = -0.5 weights', () => {
    // Output pixel 1 of 4 -> 8: centre 0.75; taps x = 0..2 at distances 0.25, 0.75, 1.75 (x - centre + 0.5).
    const k = (t: number) => {
      const a = -0.5;
      t = Math.abs(t);
      return t < 1 ? ((a + 2) * t - (a + 3)) * t * t + 1 : t < 2 ? (((t - 5) * t + 8) * t - 4) * a : 0;
    };
    const src = Float32Array.from([0.2, 0.6, 0.3, 0.9]);
    const w = [k(0 - 0.75 + 0.5), k(1 - 0.75 + 0.5), k(2 - 0.75 + 0.5)];
    const sum = w[0]! + w[1]! + w[2]!;
    const expected = (w[0]! * 0.2 + w[1]! * 0.6 + w[2]! * 0.3) / sum;
    expect(resizePlanar(src, 1, 1, 4, 1, 8, 'bicubic')[1]).toBeCloseTo(expected, 6);
  });

  it('clamps bicubic overshoot to [0, 1] unless asked not to', () => {
    const step = Float32Array.from([0, 0, 1, 1]);
    const clamped = resizePlanar(step, 1, 1, 4, 1, 9, 'bicubic');
    const free = resizePlanar(step, 1, 1, 4, 1, 9, 'bicubic', { clamp: null });
    expect(Math.min(...free)).toBeLessThan(0);
    expect(Math.min(...clamped)).toBe(0);
    expect(Math.max(...clamped)).toBe(1);
  });

  it('checks its input', () => {
    expect(() => resizePlanar(new Float32Array(5), 1, 2, 2, 1, 1, 'bilinear')).toThrow(/expected 1x2x2/);
    expect(() => resizePlanar(new Float32Array(4), 1, 2, 2, 0, 1, 'bilinear')).toThrow(/positive integers/);
  });
});

describe('resizeMaskNearest', () => {
  it('replicates when enlarging and samples pixel centres when shrinking', () => {
    const up = resizeMaskNearest({ width: 2, height: 1, data: new Uint8Array([1, 0]) }, 4, 2);
    expect(Array.from(up.data)).toEqual([1, 1, 0, 0, 1, 1, 0, 0]);
    const down = resizeMaskNearest({ width: 4, height: 1, data: new Uint8Array([0, 1, 0, 0]) }, 2, 1);
    expect(Array.from(down.data)).toEqual([1, 0]);
  });

  it('keeps values binary', () => {
    const data = Uint8Array.from({ length: 49 }, (_, i) => ((i * 31) % 3 === 0 ? 1 : 0));
    const out = resizeMaskNearest({ width: 7, height: 7, data }, 13, 5);
    for (const v of out.data) expect(v === 0 || v === 1).toBe(true);
  });
});
