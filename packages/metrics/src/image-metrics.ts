import { checkLabelsAndScores, type Labels } from './validate';
import { rankFullSort, type RankedCounts } from './ranked-counts';
import { aurocFromCounts, averagePrecisionFromCounts, f1MaxFromCounts, type F1Max } from './threshold-metrics';

/** Image-level metrics of one set. */
export interface ImageMetrics {
  /** `sklearn.metrics.roc_auc_score(labels, scores)`; undefined (with `errors.auroc`) for a one-class set. */
  auroc?: number;
  /** `sklearn.metrics.average_precision_score(labels, scores)`. */
  averagePrecision: number;
  /** F1-max over `sklearn.metrics.precision_recall_curve`. */
  f1Max: F1Max;
}

/**
 * Ranks image-level scores (full sort in float64; scores are compared exactly as given).
 * @param labels 0/1 per image. [n]
 * @param scores anomaly score per image, finite. [n]
 * @throws MetricError `length-mismatch`, `empty`, `invalid-label`, `non-finite`
 */
export function rankScores(labels: Labels, scores: ArrayLike<number>, what = 'image scores'): RankedCounts {
  const l = checkLabelsAndScores(labels, scores, what);
  return rankFullSort(l, scores);
}

/**
 * Image-level AUROC, as `sklearn.metrics.roc_auc_score`.
 * @throws MetricError `single-class` when only one class is present, and the input errors of {@link rankScores}.
 */
export function imageAuroc(labels: Labels, scores: ArrayLike<number>): number {
  return aurocFromCounts(rankScores(labels, scores), 'image scores');
}

/**
 * Image-level average precision, as `sklearn.metrics.average_precision_score` (no interpolation).
 * Returns -0.0 when there is no positive, as sklearn does.
 */
export function imageAveragePrecision(labels: Labels, scores: ArrayLike<number>): number {
  return averagePrecisionFromCounts(rankScores(labels, scores));
}

/** Image-level F1-max and its threshold over `sklearn.metrics.precision_recall_curve`. */
export function imageF1Max(labels: Labels, scores: ArrayLike<number>): F1Max {
  return f1MaxFromCounts(rankScores(labels, scores));
}

/**
 * All image-level metrics from one sort. AUROC is left out (and `aurocError` says why) when only one class
 * is present; the input errors still throw.
 */
export function evaluateImages(labels: Labels, scores: ArrayLike<number>): ImageMetrics & { aurocError?: string } {
  const c = rankScores(labels, scores);
  const out: ImageMetrics & { aurocError?: string } = { averagePrecision: averagePrecisionFromCounts(c), f1Max: f1MaxFromCounts(c) };
  try {
    out.auroc = aurocFromCounts(c, 'image scores');
  } catch (e) {
    out.aurocError = (e as Error).message;
  }
  return out;
}
