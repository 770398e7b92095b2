import { describe, it, expect } from 'vitest';
import { ConfigError } from '@hgm/tensor';
import { bilinearResizeMatrix } from './bilinear-resize-matrix';

describe('bilinearResizeMatrix (align_corners=False)', () => {
  it('resize matrices have rows summing to 1 and are the identity at the same size', () => {
    for (const [a, b] of [
      [24, 37],
      [4, 6],
      [6, 4],
      [16, 16],
      [1, 3],
    ] as const) {
      const r = bilinearResizeMatrix(a, b);
      for (let o = 0; o < b; o++) {
        let s = 0;
        for (let i = 0; i < a; i++) s += r[o * a + i]!;
        expect(s).toBeCloseTo(1, 12);
      }
    }
    const id = bilinearResizeMatrix(5, 5);
    for (let o = 0; o < 5; o++) for (let i = 0; i < 5; i++) expect(id[o * 5 + i]).toBe(o === i ? 1 : 0);
  });

  it('matches a known 2 -> 4 upsampling (torch: [1, 1.25, 1.75, 2])', () => {
    const r = bilinearResizeMatrix(2, 4);
    const up = [0, 1, 2, 3].map((o) => r[o * 2]! * 1 + r[o * 2 + 1]! * 2);
    expect(up).toEqual([1, 1.25, 1.75, 2]);
  });

  it('rejects sizes that are not positive integers, naming them', () => {
    expect(() => bilinearResizeMatrix(0, 3)).toThrow(/found in 0, out 3/);
    expect(() => bilinearResizeMatrix(2, 1.5)).toThrow(/found in 2, out 1.5/);
    expect(() => bilinearResizeMatrix(2, 1.5)).toThrow(ConfigError);
  });
});
