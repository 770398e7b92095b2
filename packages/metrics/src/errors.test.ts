import { describe, expect, it } from 'vitest';
import { MetricError } from './errors';
import { imageAuroc, imageAveragePrecision, imageF1Max, evaluateImages } from './image-metrics';
import { PixelSet } from './pixel-set';
import { pixelAuroc } from './pixel-metrics';
import { aupro, resolveAuproConfig } from './aupro';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof MetricError) return e.code;
    throw e;
  }
  return undefined;
}

describe('degenerate input gives a typed error or a documented value, never NaN', () => {
  it('image level: mismatched lengths, empty, bad labels, NaN and infinite scores', () => {
    expect(code(() => imageAuroc([0, 1], [0.1]))).toBe('length-mismatch');
    expect(code(() => imageAuroc([], []))).toBe('empty');
    expect(code(() => imageAuroc([0, 2], [0.1, 0.2]))).toBe('invalid-label');
    expect(code(() => imageAveragePrecision([0, 1], [NaN, 0.2]))).toBe('non-finite');
    expect(code(() => imageF1Max([0, 1], [Infinity, 0.2]))).toBe('non-finite');
  });
  it('one class: AUROC raises single-class; AP and F1 are sklearn values (AP -0 with no positive)', () => {
    expect(code(() => imageAuroc([0, 0, 0], [0.1, 0.2, 0.3]))).toBe('single-class');
    expect(code(() => imageAuroc([1, 1], [0.1, 0.2]))).toBe('single-class');
    expect(Object.is(imageAveragePrecision([0, 0], [0.1, 0.2]), -0)).toBe(true);
    expect(imageAveragePrecision([1, 1], [0.1, 0.2])).toBe(1);
    expect(imageF1Max([0, 0], [0.3, 0.2])).toMatchObject({ f1: 0, threshold: 0.2 });
    const all = evaluateImages([0, 0], [0.3, 0.2]);
    expect(all.auroc).toBeUndefined();
    expect(all.aurocError).toMatch(/both classes/);
  });
  it('pixel level: shapes, masks, non-finite maps, no anomalous pixel, no normal pixel', () => {
    const s = new PixelSet('test set');
    expect(code(() => s.add(new Float32Array(4), new Uint8Array(3), { height: 2, width: 2 }))).toBe('length-mismatch');
    expect(code(() => s.add(new Float32Array(4), Uint8Array.of(0, 255, 0, 0), { height: 2, width: 2 }))).toBe('invalid-label');
    expect(code(() => s.add(Float32Array.of(0, NaN, 0, 0), new Uint8Array(4), { height: 2, width: 2 }))).toBe('non-finite');
    expect(code(() => pixelAuroc(s))).toBe('empty');
    s.add(Float32Array.of(0.1, 0.2, 0.3, 0.4), new Uint8Array(4), { height: 2, width: 2 });
    expect(code(() => pixelAuroc(s))).toBe('single-class');
    for (const variant of ['mvtec', 'anomalib', 'anomalyclip'] as const) expect(code(() => aupro(s, { variant }))).toBe('no-regions');
    const allAnomalous = new PixelSet().add(Float32Array.of(0.1, 0.2, 0.3, 0.4), Uint8Array.of(1, 1, 1, 1), { height: 2, width: 2 });
    expect(code(() => aupro(allAnomalous))).toBe('no-negatives');
  });
  it('AnomalyCLIP variant on constant maps is a degenerate curve', () => {
    const s = new PixelSet().add(
      new Float32Array(16).fill(0.5),
      Uint8Array.from({ length: 16 }, (_, i) => (i === 5 ? 1 : 0)),
      { height: 4, width: 4 },
    );
    expect(code(() => aupro(s, { variant: 'anomalyclip' }))).toBe('degenerate-curve');
  });
  it('configs are validated', () => {
    expect(code(() => resolveAuproConfig({ fprLimit: 0 }))).toBe('invalid-config');
    expect(code(() => resolveAuproConfig({ fprLimit: 1.5 }))).toBe('invalid-config');
    expect(code(() => resolveAuproConfig({ variant: 'foo' as never }))).toBe('invalid-config');
    expect(resolveAuproConfig()).toEqual({ variant: 'mvtec', fprLimit: 0.3, maxSteps: 200 });
  });
});
