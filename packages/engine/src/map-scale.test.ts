import { describe, expect, it } from 'vitest';
import { ConfigError } from '@hgm/tensor';
import { MapRange, describeScale, fixedScale, parseMapScale } from './map-scale';

describe('map scale', () => {
  it('spans the smallest to the largest finite value over every map of the run', () => {
    const r = new MapRange();
    r.add(Float32Array.of(0.3, 0.31, NaN));
    r.add([0.29, Infinity, 0.305]);
    const s = r.scale();
    expect(s.mode).toBe('run');
    expect(s.min).toBeCloseTo(0.29, 6);
    expect(s.max).toBeCloseTo(0.31, 6);
    expect(describeScale(s)).toBe('run scale 0.2900 .. 0.3100');
    expect(describeScale(fixedScale())).toBe('fixed scale 0 .. 1');
  });

  it('keeps a finite span on a constant run and falls back to 0..1 without values', () => {
    const c = new MapRange();
    c.add([-2, -2]);
    expect(c.scale()).toEqual({ mode: 'run', min: -2, max: -2 + 1e-6 });
    expect(new MapRange().scale()).toEqual({ mode: 'run', min: 0, max: 1 });
  });

  it('accepts fixed and run only', () => {
    expect(parseMapScale(undefined)).toBe('fixed');
    expect(parseMapScale('run')).toBe('run');
    expect(() => parseMapScale('log')).toThrow(ConfigError);
    expect(() => parseMapScale('log')).toThrow('map scale: expected fixed or run, got "log"');
  });
});
