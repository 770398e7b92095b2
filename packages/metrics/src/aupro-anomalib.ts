import { MetricError } from './errors';
import { floatKey, floatKeysOf, keysToFloats } from './float-key';
import type { PixelData } from './pixel-set';

const EPS32 = 1.1920928955078125e-7; // torch.finfo(torch.float32).eps
const f = Math.fround;

/**
 * AUPRO as anomalib's `_AUPRO(fpr_limit=L, num_thresholds=None)` computes it (anomalib snapshot
 * 161bb369, torchmetrics 1.7.1), all in float32 as there:
 * - a global torchmetrics ROC over all pixels only sets the grid size: the number of its points with
 *   FPR <= L (`output_size`);
 * - for each 8-connected region, a torchmetrics ROC on (all normal pixels + that region), cut at L with one
 *   point interpolated at L; its points are resampled BY INDEX (not by FPR) onto the common grid;
 * - TPR and FPR are averaged over regions, and the result is `auc(fpr, tpr) / fpr[-1]`;
 * - scores outside [0, 1] go through a sigmoid first (torchmetrics' `normalize_logits_if_needed`), per ROC call.
 * Its values sit slightly below MVTec's, and further below as L shrinks. Cost: O(regions x pixels below the
 * limit); it needs the sorted normal pixels.
 * @param sortedNegatives keys of the normal pixels, ascending.
 * @throws MetricError `no-regions`, `no-negatives` (the reference returns NaN), `degenerate-curve`.
 */
export function auproAnomalib(d: PixelData, sortedNegatives: Uint32Array, fprLimit: number, what: string): number {
  const R = d.regionSizes.length;
  if (R === 0) throw new MetricError('no-regions', `${what}: AUPRO needs at least one anomalous region, found none (anomalib's reference returns NaN)`);
  if (d.negatives === 0) throw new MetricError('no-negatives', `${what}: AUPRO needs normal pixels, found none`);
  const limit = f(fprLimit); // registered as a float32 buffer
  const key0 = floatKey(0),
    key1 = floatKey(1);
  let negSigmoid: Uint32Array | undefined;
  const negatives = (sigmoid: boolean): Uint32Array => (sigmoid ? (negSigmoid ??= sigmoidKeys(sortedNegatives)) : sortedNegatives);

  // global ROC: grid size
  const globalSigmoid = d.minKey < key0 || d.maxKey > key1;
  const globalCurve = rocPrefix(negatives(globalSigmoid), globalSigmoid ? sigmoidKeys(d.positiveKeys) : d.positiveKeys, limit);
  let outputSize = 0;
  for (let k = 0; k < globalCurve.fpr.length; k++) if (globalCurve.fpr[k]! <= limit) outputSize++;
  if (outputSize < 2) throw new MetricError('degenerate-curve', `${what}: anomalib's AUPRO grid has ${outputSize} point(s) with FPR <= ${fprLimit}`);

  // regions' keys, ascending, grouped by region (in region order)
  const offsets = new Uint32Array(R + 1);
  for (let r = 0; r < R; r++) offsets[r + 1] = offsets[r]! + d.regionSizes[r]!;
  const regionKeys = new Uint32Array(d.positives);
  {
    const fill = offsets.slice(0, R);
    for (let i = 0; i < d.positiveKeys.length; i++) regionKeys[fill[d.positiveRegions[i]!]!++] = d.positiveKeys[i]!;
  }

  const tprSum = new Float64Array(outputSize);
  const fprSum = new Float64Array(outputSize);
  for (let r = 0; r < R; r++) {
    const keys = regionKeys.subarray(offsets[r]!, offsets[r + 1]!);
    const outside = Math.min(d.negativeMinKey, d.regionMinKey[r]!) < key0 || Math.max(d.negativeMaxKey, d.regionMaxKey[r]!) > key1;
    // points up to the first FPR > limit, then on while FPR stays equal to it (for the edge case below)
    const curve = rocPrefix(negatives(outside), outside ? sigmoidKeys(keys) : keys, limit);
    accumulateRegion(curve.fpr, curve.tpr, limit, outputSize, tprSum, fprSum, `${what}: region ${r}`);
  }
  // average, then auc(fpr, tpr, reorder=True) / fpr[-1]
  const Rf = f(R);
  const fpr = Float64Array.from(fprSum, (v) => f(v / Rf));
  const tpr = Float64Array.from(tprSum, (v) => f(v / Rf));
  // torch.sort(fpr, stable=True); the averaged FPRs are almost always sorted already
  let isSorted = true;
  for (let i = 1; i < outputSize && isSorted; i++) if (fpr[i]! < fpr[i - 1]!) isSorted = false;
  const order = new Uint32Array(outputSize);
  for (let i = 0; i < outputSize; i++) order[i] = i;
  if (!isSorted) order.set(Array.from(order).sort((a, b) => fpr[a]! - fpr[b]! || a - b));
  let area = 0;
  for (let i = 1; i < outputSize; i++) {
    const a = order[i - 1]!,
      b = order[i]!;
    area += f(f(tpr[a]! + tpr[b]!) * f(fpr[b]! - fpr[a]!));
  }
  const result = f(f(f(area) / 2) / fpr[outputSize - 1]!);
  if (!Number.isFinite(result)) throw new MetricError('degenerate-curve', `${what}: anomalib's AUPRO is not finite (${result})`);
  return result;
}

/**
 * One region of anomalib's `compute_pro` loop: cut the region's ROC (F, T) at `limit` (float32), interpolate
 * a point at the limit, resample by index onto the grid 0..outputSize-1, and add into the sums.
 */
function accumulateRegion(F: Float64Array, T: Float64Array, limit: number, outputSize: number, tprSum: Float64Array, fprSum: Float64Array, what: string): void {
  const gridMax = outputSize - 1;
  // catch edge-case where ROC only has fpr vals > limit
  let maxBelow = -Infinity,
    minAbove = Infinity;
  for (let k = 0; k < F.length; k++) {
    if (F[k]! <= limit) maxBelow = Math.max(maxBelow, F[k]!);
    else minAbove = Math.min(minAbove, F[k]!);
  }
  const cut = maxBelow === 0 ? minAbove : limit;
  let c = 0;
  while (c < F.length && F[c]! <= cut) c++; // F is non-decreasing: the kept points are a prefix
  // kept indices 0..c-1, then maybe the first index at or above the limit
  const idx = new Uint32Array(c + 1);
  for (let k = 0; k < c; k++) idx[k] = k;
  let M = c;
  let interp = false;
  let slope = 0;
  const lastF = F[c - 1]!;
  if (!(Math.abs(lastF - limit) <= 1e-8 + 1e-5 * Math.abs(limit))) {
    const tmp = lowerBound(F, F.length, limit);
    if (tmp >= F.length) throw new MetricError('degenerate-curve', `${what}: the ROC never reaches FPR ${limit}`);
    idx[M++] = tmp;
    slope = f(1 - f(f(F[tmp]! - limit) / f(F[tmp]! - F[tmp - 1]!)));
    interp = true;
  }
  let idxMax = 0;
  for (let i = 0; i < M; i++) if (idx[i]! > idxMax) idxMax = idx[i]!;
  const oldX = new Float64Array(M);
  const oldT = new Float64Array(M);
  const oldF = new Float64Array(M);
  let sorted = true;
  for (let i = 0; i < M; i++) {
    oldX[i] = f(f(idx[i]! / idxMax) * gridMax);
    oldT[i] = T[idx[i]!]!;
    oldF[i] = F[idx[i]!]!;
    if (i > 0 && oldX[i]! < oldX[i - 1]!) sorted = false;
  }
  const lastX = interp ? f(oldX[M - 2]! + f(f(oldX[M - 1]! - oldX[M - 2]!) * slope)) : gridMax;
  interpolateInto(oldX, oldT, outputSize, lastX, sorted, tprSum);
  interpolateInto(oldX, oldF, outputSize, lastX, sorted, fprSum);
}

/** First index i in [0, n) with a[i] >= v (torch.searchsorted, left), on any array as torch's binary search does. */
function lowerBound(a: ArrayLike<number>, n: number, v: number): number {
  let lo = 0,
    hi = n;
  while (lo < hi) {
    const mid = lo + ((hi - lo) >> 1);
    if (!(a[mid]! >= v)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** anomalib's `interp1d(old_x, old_y, new_x)` in float32, with new_x = 0, 1, ..., n - 2, last; adds into `acc`. */
function interpolateInto(oldX: Float64Array, oldY: Float64Array, n: number, last: number, sorted: boolean, acc: Float64Array): void {
  const M = oldX.length;
  const slope = new Float64Array(M - 1);
  for (let i = 0; i < M - 1; i++) slope[i] = f(f(oldY[i + 1]! - oldY[i]!) / f(EPS32 + f(oldX[i + 1]! - oldX[i]!)));
  let p = 0; // lower bound pointer for the ascending part of new_x
  for (let j = 0; j < n; j++) {
    const x = j === n - 1 ? last : j;
    let lb: number;
    if (sorted && j < n - 1) {
      while (p < M && oldX[p]! < x) p++;
      lb = p;
    } else lb = lowerBound(oldX, M, x);
    let i = lb - 1;
    if (i < 0) i = 0;
    if (i > M - 2) i = M - 2;
    const v = f(oldY[i]! + f(slope[i]! * f(x - oldX[i]!)));
    acc[j] = f(acc[j]! + v);
  }
}

/**
 * The start of a torchmetrics `binary_roc` curve (thresholds=None) on the union of normal pixels (`neg`) and
 * `pos`, both ascending keys, walked from the top: point 0 is (0, 0), then one point per distinct score.
 * float32 as torchmetrics: fps = float32(float32(#>=) - tps), fpr = fps / fps[-1], tpr = tps / tps[-1].
 * Keeps the points up to the first FPR above `limit` and the run of points with that same FPR, then stops.
 */
function rocPrefix(neg: Uint32Array, pos: Uint32Array, limit: number): { fpr: Float64Array; tpr: Float64Array } {
  const nN = neg.length,
    nP = pos.length;
  const fpsLast = f(f(nN + nP) - f(nP));
  const tpsLast = f(nP);
  let cap = 1024;
  let fpr = new Float64Array(cap),
    tpr = new Float64Array(cap);
  let n = 1; // point 0 = (0, 0)
  let i = nN - 1,
    j = nP - 1;
  let cn = 0,
    cp = 0;
  let first = -1;
  while (i >= 0 || j >= 0) {
    const kn = i >= 0 ? neg[i]! : -1;
    const kp = j >= 0 ? pos[j]! : -1;
    const top = kn > kp ? kn : kp;
    while (i >= 0 && neg[i] === top) {
      i--;
      cn++;
    }
    while (j >= 0 && pos[j] === top) {
      j--;
      cp++;
    }
    const tps = f(cp);
    const fps = f(f(cn + cp) - tps);
    const x = fpsLast > 0 ? f(fps / fpsLast) : 0;
    if (first >= 0 && x > first) break;
    if (n === cap) {
      cap *= 2;
      const a = new Float64Array(cap),
        b = new Float64Array(cap);
      a.set(fpr);
      b.set(tpr);
      fpr = a;
      tpr = b;
    }
    fpr[n] = x;
    tpr[n++] = tpsLast > 0 ? f(tps / tpsLast) : 0;
    if (first < 0 && x > limit) first = x;
  }
  return { fpr: fpr.subarray(0, n), tpr: tpr.subarray(0, n) };
}

/** Keys after torch's float32 sigmoid (monotone, so sorted keys stay sorted; nearby values may merge). */
function sigmoidKeys(keys: Uint32Array): Uint32Array {
  const x = keysToFloats(keys);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = 1 / (1 + Math.exp(-x[i]!));
  return floatKeysOf(out);
}
