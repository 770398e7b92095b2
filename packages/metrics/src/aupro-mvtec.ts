import { MetricError } from './errors';
import { pairwiseSum } from './pairwise-sum';
import type { RankedCounts } from './ranked-counts';

/**
 * AUPRO as MVTec AD's official evaluation code computes it (`pro_curve_util.compute_pro` followed by
 * `generic_util.trapezoid(fprs, pros, x_max=L) / L`):
 * - regions are the 8-connected components of each ground-truth mask; a region's overlap at threshold t is
 *   the fraction of its pixels with score >= t, and PRO(t) is the mean over all regions of all images;
 * - FPR(t) is the fraction of all normal pixels (of all images) with score >= t, computed in float32 as the
 *   reference does (`float32(count) / float32(normal pixels)`); PRO is float64;
 * - every distinct score is a threshold (tied scores give one point); the curve gets (0, 0) and (1, 1);
 * - trapezoidal integration up to FPR = L, where PRO at L is interpolated linearly, and the area is
 *   divided by L.
 * @param c ranked counts with `overlapSum` (from a pixel set). `regions` is the number of regions.
 * @throws MetricError `no-regions` (where the reference divides 0/0 and returns a meaningless L / 2),
 *   `no-negatives`, `invalid-config`.
 */
export function auproMvtecFromCounts(c: RankedCounts, regions: number, fprLimit: number, what: string): number {
  checkLimit(fprLimit, what);
  if (regions === 0 || !c.overlapSum) {
    throw new MetricError(
      'no-regions',
      `${what}: AUPRO needs at least one anomalous region, found none (every mask is empty); the MVTec reference divides 0/0 here`,
    );
  }
  if (c.negatives === 0) {
    throw new MetricError('no-negatives', `${what}: AUPRO needs normal pixels to measure the false-positive rate, found none`);
  }
  const m = c.thresholds.length;
  const negF = Math.fround(c.negatives);
  const fpr = (count: number): number => Math.min(Math.fround(Math.fround(count) / negF), 1);
  const pro = (sum: number): number => Math.min(sum / regions, 1);
  const x = new Float64Array(2 * m + 3);
  const y = new Float64Array(2 * m + 3);
  let n = 1; // (0, 0)
  let yPrev = 0;
  for (let j = 0; j < m; j++) {
    x[n] = fpr(c.falsePositivesAbove[j]!);
    y[n++] = yPrev;
    yPrev = pro(c.overlapSum[j]!);
    x[n] = fpr(c.falsePositives[j]!);
    y[n++] = yPrev;
  }
  x[n] = fpr(c.negatives);
  y[n++] = yPrev;
  x[n] = 1;
  y[n++] = 1;
  return trapezoidTo(x.subarray(0, n), y.subarray(0, n), fprLimit) / fprLimit;
}

/**
 * Trapezoidal area under (x, y) for x in [0, xMax], x non-decreasing, as MVTec's `generic_util.trapezoid`:
 * when xMax is not one of the x values, y(xMax) is interpolated linearly between its neighbours.
 */
export function trapezoidTo(x: Float64Array, y: Float64Array, xMax: number): number {
  let correction = 0;
  let end = x.length;
  let present = false;
  for (let i = 0; i < x.length && x[i]! <= xMax; i++) if (x[i] === xMax) present = true;
  if (!present) {
    // bisect_left: first index with x >= xMax
    let lo = 0,
      hi = x.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (x[mid]! < xMax) lo = mid + 1;
      else hi = mid;
    }
    const ins = lo;
    if (ins <= 0 || ins >= x.length) throw new MetricError('degenerate-curve', `trapezoid: x_max ${xMax} is outside the curve's FPR range`);
    const yInterp = y[ins - 1]! + ((y[ins]! - y[ins - 1]!) * (xMax - x[ins - 1]!)) / (x[ins]! - x[ins - 1]!);
    correction = 0.5 * (yInterp + y[ins - 1]!) * (xMax - x[ins - 1]!);
  }
  // cut off at xMax (x is sorted, so the kept points are a prefix)
  end = 0;
  while (end < x.length && x[end]! <= xMax) end++;
  if (end < 2) return correction;
  const terms = new Float64Array(end - 1);
  for (let i = 1; i < end; i++) terms[i - 1] = 0.5 * (y[i]! + y[i - 1]!) * (x[i]! - x[i - 1]!);
  return pairwiseSum(terms) + correction;
}

/** Checks an FPR limit: a number in (0, 1]. */
export function checkLimit(fprLimit: number, what: string): void {
  if (!(typeof fprLimit === 'number' && fprLimit > 0 && fprLimit <= 1)) {
    throw new MetricError('invalid-config', `${what}: fprLimit is ${fprLimit}, expected a number in (0, 1]`);
  }
}
