import { MetricError } from './errors';
import { floatKey, keyToFloat } from './float-key';
import { pairwiseSum } from './pairwise-sum';
import type { PixelData } from './pixel-set';

/**
 * AUPRO as AnomalyCLIP's `metrics.cal_pro_score(masks, amaps, max_step=200, expect_fpr=0.3)` computes it
 * (a private variant; do not report it as the MVTec metric):
 * - thresholds `np.arange(min, max, (max - min) / maxSteps)` over all maps, under the NumPy 1.x casting the
 *   reference ran with: `max - min` is a float32 scalar, dividing it by the int `maxSteps` gives a float64
 *   step, so the thresholds are float64 (`lo + i * ((lo + delta) - lo)`); a pixel is positive when
 *   `score > threshold`, compared in float32 (NumPy 1.x casts the float64 scalar to the float32 array's type,
 *   rounding to nearest);
 * - at each threshold, PRO = mean over all regions (8-connected) of overlap, FPR = false positives / normal
 *   pixels;
 * - only the points with FPR < L are kept, their FPRs are rescaled min-max onto [0, 1], and the area is
 *   `sklearn.metrics.auc` of that: no exact limit point and no (0, 0) start point.
 * @throws MetricError `no-regions`, `no-negatives`, `degenerate-curve` (constant maps, or fewer than two
 *   distinct FPRs below L), where the reference returns NaN or raises.
 */
export function auproAnomalyclip(d: PixelData, fprLimit: number, maxSteps: number, what: string): number {
  const R = d.regionSizes.length;
  if (R === 0) throw new MetricError('no-regions', `${what}: AUPRO needs at least one anomalous region, found none (AnomalyCLIP's reference returns NaN)`);
  if (d.negatives === 0) throw new MetricError('no-negatives', `${what}: AUPRO needs normal pixels, found none`);
  const lo = keyToFloat(d.minKey);
  const hi = keyToFloat(d.maxKey);
  // (max_th - min_th): float32 scalars, a float32 difference; / max_step (a Python int): a float64 quotient
  const span = Math.fround(hi - lo);
  const delta = span / maxSteps;
  if (!(delta > 0)) {
    throw new MetricError('degenerate-curve', `${what}: AnomalyCLIP's AUPRO needs maps that are not constant (min = max = ${lo})`);
  }
  // np.arange(float32 lo, float32 hi, float64 delta): length ceil((hi - lo) / delta) with the float32 range,
  // float64 values lo, lo + delta, then lo + i * ((lo + delta) - lo)
  const T = Math.ceil(span / delta);
  const step = lo + delta - lo;
  const thresholdKeys = new Uint32Array(T);
  for (let i = 0; i < T; i++) {
    const th = i === 0 ? lo : i === 1 ? lo + delta : lo + i * step;
    // `amaps > th` compares in float32 (th rounded to nearest): positive <=> key(score) > key(fround(th))
    thresholdKeys[i] = floatKey(Math.fround(th)) + 1;
  }
  // above(k) = number of thresholds a pixel with key k exceeds
  const above = (k: number): number => {
    let a = 0,
      b = T;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (thresholdKeys[mid]! <= k) a = mid + 1;
      else b = mid;
    }
    return a;
  };
  const negHist = new Float64Array(T + 1);
  for (const chunk of d.negativeChunks) for (let i = 0; i < chunk.length; i++) negHist[above(chunk[i]!)]!++;
  const regionHist = new Float64Array(R * (T + 1));
  const pk = d.positiveKeys,
    pr = d.positiveRegions;
  for (let i = 0; i < pk.length; i++) regionHist[pr[i]! * (T + 1) + above(pk[i]!)]!++;
  // counts at threshold i: pixels exceeding more than i thresholds
  const negatives = Math.fround(d.negatives);
  const fprs = new Float64Array(T);
  const pros = new Float64Array(T);
  const overlap = new Float64Array(R);
  const regionCum = new Float64Array(R);
  let negCum = negHist[T]!;
  for (let r = 0; r < R; r++) regionCum[r] = regionHist[r * (T + 1) + T]!;
  for (let i = T - 1; i >= 0; i--) {
    for (let r = 0; r < R; r++) overlap[r] = regionCum[r]! / d.regionSizes[r]!;
    pros[i] = pairwiseSum(overlap) / R;
    fprs[i] = negCum / negatives;
    negCum += negHist[i]!;
    for (let r = 0; r < R; r++) regionCum[r] = regionCum[r]! + regionHist[r * (T + 1) + i]!;
  }
  const keptX: number[] = [];
  const keptY: number[] = [];
  for (let i = 0; i < T; i++) {
    if (fprs[i]! < fprLimit) {
      keptX.push(fprs[i]!);
      keptY.push(pros[i]!);
    }
  }
  if (keptX.length === 0) throw new MetricError('degenerate-curve', `${what}: no threshold of AnomalyCLIP's AUPRO has FPR < ${fprLimit}`);
  let mn = Infinity,
    mx = -Infinity;
  for (const v of keptX) {
    if (v < mn) mn = v;
    if (v > mx) mx = v;
  }
  if (!(mx > mn)) {
    throw new MetricError(
      'degenerate-curve',
      `${what}: AnomalyCLIP's AUPRO has a single FPR value (${mn}) below ${fprLimit}; its min-max rescaling divides 0/0`,
    );
  }
  const x = keptX.map((v) => (v - mn) / (mx - mn));
  // sklearn.metrics.auc: direction from the sign of dx, then np.trapz
  let anyNeg = false,
    allNonPos = true;
  for (let i = 1; i < x.length; i++) {
    const dx = x[i]! - x[i - 1]!;
    if (dx < 0) anyNeg = true;
    if (dx > 0) allNonPos = false;
  }
  if (anyNeg && !allNonPos) throw new MetricError('degenerate-curve', `${what}: AnomalyCLIP's FPR curve is not monotonic`);
  const direction = anyNeg ? -1 : 1;
  const terms = new Float64Array(x.length - 1);
  for (let i = 1; i < x.length; i++) terms[i - 1] = ((x[i]! - x[i - 1]!) * (keptY[i]! + keptY[i - 1]!)) / 2;
  return direction * pairwiseSum(terms);
}
