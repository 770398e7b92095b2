// Exact merging of pixel sets: shards accumulated separately and merged in shard order give the
// single-process metrics bit for bit, also through toState / fromState (the form sent between processes).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PixelSet } from './pixel-set';
import { pixelAuroc, pixelAveragePrecision, pixelF1Max } from './pixel-metrics';
import { aupro, AUPRO_VARIANTS } from './aupro';
import { MetricError } from './errors';

const H = 6;
const W = 7;

const arbMaps = fc.array(
  fc.record({
    map: fc.array(
      fc.float({ min: 0, max: 1, noNaN: true, noDefaultInfinity: true }).map((x) => Math.round(x * 16) / 16),
      { minLength: H * W, maxLength: H * W },
    ),
    mask: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: H * W, maxLength: H * W }),
  }),
  { minLength: 2, maxLength: 7 },
);

/** Every pixel metric, or the error it reports (an undefined metric must be undefined on both sides). */
function metricsOf(set: PixelSet): unknown[] {
  const attempt = (f: () => unknown) => {
    try {
      return f();
    } catch (e) {
      return `error: ${(e as Error).message}`;
    }
  };
  return [
    attempt(() => pixelAuroc(set)),
    attempt(() => pixelAveragePrecision(set)),
    attempt(() => pixelF1Max(set)),
    ...AUPRO_VARIANTS.map((variant) => attempt(() => aupro(set, { variant }))),
  ];
}

function build(items: { map: number[]; mask: number[] }[], name?: string): PixelSet {
  const s = new PixelSet(name);
  for (const it of items) s.add(it.map, it.mask, { height: H, width: W });
  return s;
}

describe('PixelSet.merge', () => {
  it('gives exactly the single-process metrics for any split into shards', () => {
    fc.assert(
      fc.property(arbMaps, fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), (items, cutsRaw) => {
        const hasPos = items.some((i) => i.mask.includes(1));
        const hasNeg = items.some((i) => i.mask.includes(0));
        fc.pre(hasPos && hasNeg);
        const cuts = [...new Set(cutsRaw.map((c) => c % items.length))].sort((a, b) => a - b);
        const bounds = [0, ...cuts.filter((c) => c > 0), items.length];
        const shards = bounds.slice(1).map((end, k) => build(items.slice(bounds[k], end)));
        const merged = new PixelSet();
        for (const shard of shards) merged.merge(shard);
        const viaState = new PixelSet();
        for (const shard of shards) viaState.mergeState(PixelSet.fromState(shard.toState()).toState());
        const single = build(items);
        expect(merged.imageCount).toBe(items.length);
        expect(merged.regionCount).toBe(single.regionCount);
        expect(metricsOf(merged)).toEqual(metricsOf(single));
        expect(metricsOf(viaState)).toEqual(metricsOf(single));
      }),
      { numRuns: 60, seed: 12 },
    );
  });

  it('leaves the merged-in set unchanged and accepts empty shards', () => {
    const items = [
      { map: Array.from({ length: H * W }, (_, i) => (i % 5) / 5), mask: Array.from({ length: H * W }, (_, i) => (i < 9 ? 1 : 0)) },
      { map: Array.from({ length: H * W }, (_, i) => (i % 3) / 3), mask: Array.from({ length: H * W }, () => 0) },
    ];
    const a = build(items.slice(0, 1));
    const b = build(items.slice(1));
    const before = metricsOf(build(items.slice(0, 1)));
    const merged = new PixelSet().merge(new PixelSet()).merge(a).merge(b);
    expect(metricsOf(merged)).toEqual(metricsOf(build(items)));
    expect(metricsOf(a)).toEqual(before);
  });

  it('refuses a state whose arrays disagree, naming the set', () => {
    const s = build([{ map: Array.from({ length: H * W }, () => 0.5), mask: Array.from({ length: H * W }, (_, i) => (i === 0 ? 1 : 0)) }]);
    const state = s.toState();
    expect(() => new PixelSet('shard 2').mergeState({ ...state, positiveRegions: new Uint32Array(0) })).toThrow(MetricError);
    expect(() => new PixelSet('shard 2').mergeState({ ...state, positiveRegions: Uint32Array.of(5) })).toThrow(
      'shard 2: merged state: anomalous pixel 0 is in region 5, but the state has 1 regions',
    );
  });
});
