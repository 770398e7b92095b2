import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { imageAuroc, imageAveragePrecision, imageF1Max } from './image-metrics';
import { PixelSet } from './pixel-set';
import { pixelAuroc, pixelAveragePrecision, pixelF1Max } from './pixel-metrics';
import { aupro } from './aupro';

/** Labels with both classes and integer-valued scores (ties likely). */
const labelledScores = fc
  .integer({ min: 2, max: 60 })
  .chain((n) =>
    fc.tuple(
      fc.array(fc.integer({ min: 0, max: 1 }), { minLength: n, maxLength: n }),
      fc.array(fc.integer({ min: -20, max: 20 }), { minLength: n, maxLength: n }),
    ),
  )
  .filter(([l]) => l.includes(0) && l.includes(1));

/** Brute-force AUROC: P(s+ > s-) + P(s+ = s-) / 2 over all pairs. */
function pairAuroc(labels: number[], scores: number[]): number {
  let num = 0,
    pairs = 0;
  for (let i = 0; i < labels.length; i++) {
    if (!labels[i]) continue;
    for (let j = 0; j < labels.length; j++) {
      if (labels[j]) continue;
      pairs++;
      num += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
  }
  return num / pairs;
}

/** Brute-force AP: sum over distinct thresholds t of (R(t) - R(next higher t)) * P(t). */
function bruteAp(labels: number[], scores: number[]): number {
  const ts = [...new Set(scores)].sort((a, b) => b - a);
  const P = labels.filter((l) => l).length;
  let ap = 0,
    prevR = 0;
  for (const t of ts) {
    let tp = 0,
      fp = 0;
    for (let i = 0; i < labels.length; i++)
      if (scores[i]! >= t) {
        if (labels[i]) tp++;
        else fp++;
      }
    ap += (tp / P - prevR) * (tp / (tp + fp));
    prevR = tp / P;
  }
  return ap;
}

describe('image-level properties', () => {
  it('AUROC equals the pair-counting definition', () => {
    fc.assert(fc.property(labelledScores, ([l, s]) => Math.abs(imageAuroc(l, s) - pairAuroc(l, s)) < 1e-12));
  });
  it('AP equals the step-wise definition', () => {
    fc.assert(fc.property(labelledScores, ([l, s]) => Math.abs(imageAveragePrecision(l, s) - bruteAp(l, s)) < 1e-12));
  });
  it('AUROC, AP and F1-max are invariant under strictly increasing transforms of the scores', () => {
    const transforms = [(x: number) => Math.exp(x / 7), (x: number) => x ** 3 + 5 * x, (x: number) => 3 * x - 100];
    fc.assert(
      fc.property(labelledScores, fc.integer({ min: 0, max: 2 }), ([l, s], k) => {
        const t = s.map(transforms[k]!);
        expect(imageAuroc(l, t)).toBeCloseTo(imageAuroc(l, s), 12);
        expect(imageAveragePrecision(l, t)).toBeCloseTo(imageAveragePrecision(l, s), 12);
        const a = imageF1Max(l, s),
          b = imageF1Max(l, t);
        expect(b.f1).toBeCloseTo(a.f1, 12);
        expect(b.threshold).toBe(transforms[k]!(a.threshold));
        expect(b.index).toBe(a.index);
      }),
    );
  });
  it('AUROC of swapped labels, and of negated scores, is 1 - AUROC', () => {
    fc.assert(
      fc.property(labelledScores, ([l, s]) => {
        const a = imageAuroc(l, s);
        expect(
          imageAuroc(
            l.map((x) => 1 - x),
            s,
          ),
        ).toBeCloseTo(1 - a, 12);
        expect(
          imageAuroc(
            l,
            s.map((x) => -x),
          ),
        ).toBeCloseTo(1 - a, 12);
      }),
    );
  });
  it('F1-max is the maximum of F1 over all thresholds', () => {
    fc.assert(
      fc.property(labelledScores, ([l, s]) => {
        const P = l.filter((x) => x).length;
        let best = 0;
        for (const t of new Set(s)) {
          let tp = 0,
            fp = 0;
          for (let i = 0; i < l.length; i++)
            if (s[i]! >= t) {
              if (l[i]) tp++;
              else fp++;
            }
          best = Math.max(best, (2 * tp) / (tp + fp + P));
        }
        expect(imageF1Max(l, s).f1).toBeCloseTo(best, 12);
      }),
    );
  });
});

/** Small pixel sets: N maps of H x W with blob-like masks and integer-quantised float32 scores. */
const pixelSets = fc
  .record({ n: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 3, max: 9 }), w: fc.integer({ min: 3, max: 9 }) })
  .chain(({ n, h, w }) =>
    fc.record({
      shape: fc.constant([n, h, w] as [number, number, number]),
      masks: fc.array(
        fc.integer({ min: 0, max: 3 }).map((v) => (v === 0 ? 1 : 0)),
        { minLength: n * h * w, maxLength: n * h * w },
      ),
      maps: fc.array(fc.integer({ min: 0, max: 40 }), { minLength: n * h * w, maxLength: n * h * w }),
    }),
  )
  .filter(({ masks }) => masks.includes(0) && masks.includes(1));

function setOf(maps: number[], masks: number[], shape: [number, number, number], f: (x: number) => number = (x) => x / 40): PixelSet {
  return new PixelSet().addBatch(Float32Array.from(maps, f), Uint8Array.from(masks), shape);
}

/** Brute-force MVTec AUPRO: every distinct score as threshold, mean region overlap, float32 FPR, trapezoid to L. */
function bruteAupro(maps: number[], masks: number[], shape: [number, number, number], L: number): number {
  const set = setOf(maps, masks, shape);
  // regions through the same labelling; the sums are recomputed naively
  const [n, h, w] = shape;
  const per = h * w;
  const scores = Float32Array.from(maps, (x) => x / 40);
  const regions: number[][] = [];
  for (let i = 0; i < n; i++) {
    const seen = new Uint8Array(per);
    for (let p = 0; p < per; p++) {
      if (!masks[i * per + p] || seen[p]) continue;
      const stack = [p],
        reg: number[] = [];
      seen[p] = 1;
      while (stack.length) {
        const q = stack.pop()!;
        reg.push(i * per + q);
        const y = Math.floor(q / w),
          x = q % w;
        for (let dy = -1; dy <= 1; dy++)
          for (let dx = -1; dx <= 1; dx++) {
            const yy = y + dy,
              xx = x + dx;
            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
            const r = yy * w + xx;
            if (masks[i * per + r] && !seen[r]) {
              seen[r] = 1;
              stack.push(r);
            }
          }
      }
      regions.push(reg);
    }
  }
  const neg = masks.map((m, i) => (m ? NaN : scores[i]!)).filter((x) => !Number.isNaN(x));
  const ts = [...new Set(scores)].sort((a, b) => b - a);
  const xs = [0],
    ys = [0];
  for (const t of ts) {
    xs.push(Math.fround(neg.filter((v) => v >= t).length / neg.length));
    ys.push(regions.reduce((s, r) => s + r.filter((i) => scores[i]! >= t).length / r.length, 0) / regions.length);
  }
  xs.push(1);
  ys.push(1);
  let area = 0;
  for (let i = 1; i < xs.length; i++) {
    if (xs[i]! <= L) area += ((ys[i]! + ys[i - 1]!) / 2) * (xs[i]! - xs[i - 1]!);
    else {
      const yL = ys[i - 1]! + ((ys[i]! - ys[i - 1]!) * (L - xs[i - 1]!)) / (xs[i]! - xs[i - 1]!);
      area += ((yL + ys[i - 1]!) / 2) * (L - xs[i - 1]!);
      break;
    }
  }
  void set;
  return area / L;
}

describe('pixel-level properties', () => {
  it('pixel AUROC/AP/F1 equal the image-level functions on the flattened pixels', () => {
    fc.assert(
      fc.property(pixelSets, ({ maps, masks, shape }) => {
        const set = setOf(maps, masks, shape);
        const s = Array.from(Float32Array.from(maps, (x) => x / 40));
        expect(pixelAuroc(set)).toBeCloseTo(imageAuroc(masks, s), 12);
        expect(pixelAveragePrecision(set)).toBeCloseTo(imageAveragePrecision(masks, s), 12);
        expect(pixelF1Max(set).f1).toBeCloseTo(imageF1Max(masks, s).f1, 12);
        expect(pixelF1Max(set).threshold).toBe(imageF1Max(masks, s).threshold);
      }),
      { numRuns: 60 },
    );
  });
  it('MVTec AUPRO equals a brute-force evaluation of its definition', () => {
    fc.assert(
      fc.property(pixelSets, fc.constantFrom(0.3, 0.1, 0.05, 1), ({ maps, masks, shape }, L) => {
        expect(aupro(setOf(maps, masks, shape), { fprLimit: L })).toBeCloseTo(bruteAupro(maps, masks, shape, L), 10);
      }),
      { numRuns: 60 },
    );
  });
  it('AUROC and every AUPRO variant are invariant under exact monotone transforms of the maps (x -> 4x + 1 on small integers)', () => {
    fc.assert(
      fc.property(pixelSets, ({ maps, masks, shape }) => {
        const a = setOf(maps, masks, shape, (x) => x);
        const b = setOf(maps, masks, shape, (x) => 4 * x + 1);
        expect(pixelAuroc(b)).toBe(pixelAuroc(a));
        expect(pixelAveragePrecision(b)).toBe(pixelAveragePrecision(a));
        for (const L of [0.3, 0.1]) expect(aupro(b, { fprLimit: L })).toBe(aupro(a, { fprLimit: L }));
      }),
      { numRuns: 60 },
    );
  });
  it('streaming image by image gives the same results in any image order', () => {
    fc.assert(
      fc.property(pixelSets, ({ maps, masks, shape }) => {
        const [n, h, w] = shape;
        const per = h * w;
        const fwd = new PixelSet(),
          bwd = new PixelSet();
        const f = Float32Array.from(maps, (x) => x / 40),
          m = Uint8Array.from(masks);
        for (let i = 0; i < n; i++) fwd.add(f.subarray(i * per, (i + 1) * per), m.subarray(i * per, (i + 1) * per), { height: h, width: w });
        for (let i = n - 1; i >= 0; i--) bwd.add(f.subarray(i * per, (i + 1) * per), m.subarray(i * per, (i + 1) * per), { height: h, width: w });
        expect(pixelAuroc(bwd)).toBe(pixelAuroc(fwd));
        expect(aupro(bwd)).toBeCloseTo(aupro(fwd), 14);
      }),
      { numRuns: 40 },
    );
  });
});
