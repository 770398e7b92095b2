import { MetricError } from './errors';
import { pairwiseSum } from './pairwise-sum';
import type { RankedCounts } from './ranked-counts';

/** F1-max and where it is reached. */
export interface F1Max {
  /** max over thresholds of F1 = 2PR / (P + R), with 0/0 taken as 0. */
  f1: number;
  /** The score threshold (predict anomalous when score >= threshold); the lowest one among tied maxima. */
  threshold: number;
  /** Precision at that threshold. */
  precision: number;
  /** Recall at that threshold. */
  recall: number;
  /**
   * Index of the threshold in sklearn's ascending `precision_recall_curve` thresholds (the number of distinct
   * scores below it). Only for image-level sets, where the full ranking is built.
   */
  index?: number;
}

/**
 * Area under the ROC curve from ranked counts, computed as `sklearn.metrics.roc_auc_score`: trapezoids over
 * the corners of the ROC curve (fpr = fp / N, tpr = tp / P), summed pairwise.
 * @throws MetricError `single-class` when there is no positive or no negative.
 */
export function aurocFromCounts(c: RankedCounts, what: string): number {
  if (c.positives === 0 || c.negatives === 0) {
    throw new MetricError(
      'single-class',
      `${what}: AUROC needs both classes, found ${c.positives} positive(s) and ${c.negatives} negative(s) (sklearn raises "Only one class present in y_true")`,
    );
  }
  const m = c.thresholds.length;
  const P = c.positives,
    N = c.negatives;
  const terms = new Float64Array(2 * m + 1);
  let x0 = 0,
    y0 = 0,
    t = 0;
  for (let j = 0; j < m; j++) {
    // horizontal step to (fp above, previous tp), then to (fp at or above, tp)
    const xa = c.falsePositivesAbove[j]! / N;
    terms[t++] = ((xa - x0) * (y0 + y0)) / 2;
    const xb = c.falsePositives[j]! / N;
    const yb = c.truePositives[j]! / P;
    terms[t++] = ((xb - xa) * (yb + y0)) / 2;
    x0 = xb;
    y0 = yb;
  }
  terms[t++] = ((1 - x0) * (1 + y0)) / 2;
  return pairwiseSum(terms, 0, t);
}

/**
 * Average precision as `sklearn.metrics.average_precision_score`: sum over thresholds of
 * (R_j - R_{j-1}) * P_j, without interpolation. With no positive, sklearn returns -0.0 (and warns); so do we.
 */
export function averagePrecisionFromCounts(c: RankedCounts): number {
  if (c.positives === 0) return -0;
  const m = c.thresholds.length;
  const terms = new Float64Array(m);
  // sklearn sums diff(recall) * precision over the ascending-threshold order, then negates
  let prevRecall = 0;
  for (let j = 0; j < m; j++) {
    const tp = c.truePositives[j]!;
    const recall = tp / c.positives;
    const precision = tp / (tp + c.falsePositives[j]!);
    terms[m - 1 - j] = (prevRecall - recall) * precision;
    prevRecall = recall;
  }
  return -pairwiseSum(terms);
}

/**
 * F1-max over sklearn's `precision_recall_curve`: F1 = 2PR / (P + R) at every threshold, 0/0 taken as 0; the
 * first maximum in ascending-threshold order (`np.argmax`), i.e. the lowest threshold among tied maxima.
 * With no positive every F1 is 0 and the threshold is the lowest score, as with sklearn.
 */
export function f1MaxFromCounts(c: RankedCounts): F1Max {
  const m = c.thresholds.length;
  if (c.positives === 0) {
    return { f1: 0, threshold: c.minScore, precision: 0, recall: 1, ...(c.ascendingIndex ? { index: 0 } : {}) };
  }
  let best = -1,
    bestJ = -1,
    bestP = 0,
    bestR = 0;
  for (let j = m - 1; j >= 0; j--) {
    const tp = c.truePositives[j]!;
    const precision = tp / (tp + c.falsePositives[j]!);
    const recall = tp / c.positives;
    const d = precision + recall;
    const f1 = d !== 0 ? (2 * precision * recall) / d : 0;
    if (f1 > best) {
      best = f1;
      bestJ = j;
      bestP = precision;
      bestR = recall;
    }
  }
  const out: F1Max = { f1: best, threshold: c.thresholds[bestJ]!, precision: bestP, recall: bestR };
  if (c.ascendingIndex) out.index = c.ascendingIndex[bestJ]!;
  return out;
}
