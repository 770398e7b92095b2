import { describe, expect, it } from 'vitest';
import { labelRegions } from './connected-components';

const grid = (rows: string[]): Uint8Array => Uint8Array.from(rows.join('').split(''), (c) => (c === '#' ? 1 : 0));

describe('labelRegions (8-connectivity)', () => {
  it('joins regions touching at a corner, keeps a ring with a hole as one region, numbers in raster order', () => {
    const m = grid(['#...###', '.#..#.#', '....###', '##.....', '.....#.']);
    const r = labelRegions(m, 5, 7);
    expect(r.count).toBe(4);
    expect(Array.from(r.sizes)).toEqual([2, 8, 2, 1]);
    expect(r.labels[0]).toBe(1);
    expect(r.labels[8]).toBe(1); // diagonal neighbour
    expect(r.labels[4]).toBe(2);
    expect(r.labels[5 * 7 - 2]).toBe(4);
  });
  it('a U shape merged late keeps one id', () => {
    const r = labelRegions(grid(['#.#', '#.#', '###']), 3, 3);
    expect(r.count).toBe(1);
    expect(r.sizes[0]).toBe(7);
  });
});
