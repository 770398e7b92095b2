import { PixelSet } from './pixel-set';
import { aurocFromCounts, averagePrecisionFromCounts, f1MaxFromCounts, type F1Max } from './threshold-metrics';

/**
 * Pixel-level AUROC over all pixels of a set, as `sklearn.metrics.roc_auc_score(masks.ravel(), maps.ravel())`.
 * @throws MetricError `single-class` (no anomalous or no normal pixel), `empty`
 */
export function pixelAuroc(set: PixelSet): number {
  return aurocFromCounts(set.ranked(), `${set.name}: pixel AUROC`);
}

/** Pixel-level average precision, as `sklearn.metrics.average_precision_score` (-0.0 with no anomalous pixel, as sklearn). */
export function pixelAveragePrecision(set: PixelSet): number {
  return averagePrecisionFromCounts(set.ranked());
}

/** Pixel-level F1-max and its threshold over `sklearn.metrics.precision_recall_curve`. */
export function pixelF1Max(set: PixelSet): F1Max {
  return f1MaxFromCounts(set.ranked());
}
