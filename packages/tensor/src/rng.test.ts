import { describe, it, expect } from 'vitest';
import { Rng } from './rng';

describe('Rng', () => {
  it('is a pure function of its seed', () => {
    const a = new Rng(111);
    const b = new Rng(111);
    const c = new Rng(112);
    const sa = Array.from({ length: 50 }, () => a.nextUint32());
    expect(Array.from({ length: 50 }, () => b.nextUint32())).toEqual(sa);
    expect(Array.from({ length: 50 }, () => c.nextUint32())).not.toEqual(sa);
    expect(new Rng('demo').uniform()).toBe(new Rng('demo').uniform());
  });

  it('draws uniform, normal and Gumbel samples with the right moments', () => {
    const r = new Rng(7);
    const n = 200_000;
    const u = r.uniformArray(n);
    const z = r.normalArray(n, 1, 2);
    const g = r.gumbelArray(n);
    const mean = (a: Float32Array) => a.reduce((s, x) => s + x, 0) / a.length;
    const variance = (a: Float32Array) => {
      const m = mean(a);
      return a.reduce((s, x) => s + (x - m) ** 2, 0) / a.length;
    };
    expect(u.reduce((m, x) => Math.min(m, x), 1)).toBeGreaterThanOrEqual(0);
    expect(u.reduce((m, x) => Math.max(m, x), 0)).toBeLessThan(1);
    expect(mean(u)).toBeCloseTo(0.5, 2);
    expect(variance(u)).toBeCloseTo(1 / 12, 2);
    expect(mean(z)).toBeCloseTo(1, 1);
    expect(Math.sqrt(variance(z))).toBeCloseTo(2, 1);
    expect(mean(g)).toBeCloseTo(0.5772, 1); // Euler-Mascheroni constant
    expect(variance(g)).toBeCloseTo(Math.PI ** 2 / 6, 1);
  });

  it('truncated normal stays within two standard deviations', () => {
    const r = new Rng(3);
    for (let i = 0; i < 10_000; i++) {
      const x = r.truncatedNormal(0, 0.02);
      expect(Math.abs(x)).toBeLessThanOrEqual(0.04);
    }
  });

  it('permutations are permutations and cover all orders over many draws', () => {
    const r = new Rng(5);
    const seen = new Set<string>();
    for (let i = 0; i < 600; i++) {
      const p = Array.from(r.permutation(3));
      expect([...p].sort()).toEqual([0, 1, 2]);
      seen.add(p.join(''));
    }
    expect(seen.size).toBe(6);
    expect(() => r.int(0)).toThrow('Rng.int: n must be a positive integer, got 0');
  });

  it('forks independent, reproducible sub-streams', () => {
    const a = new Rng(9).fork();
    const b = new Rng(9).fork();
    expect(a.uniform()).toBe(b.uniform());
  });
});
