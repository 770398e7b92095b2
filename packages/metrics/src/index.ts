export { MetricError, isMetricError, type MetricErrorCode } from './errors';
export { labelRegions, type RegionLabels } from './connected-components';
export { type RankedCounts } from './ranked-counts';
export { aurocFromCounts, averagePrecisionFromCounts, f1MaxFromCounts, type F1Max } from './threshold-metrics';
export { rankScores, imageAuroc, imageAveragePrecision, imageF1Max, evaluateImages, type ImageMetrics } from './image-metrics';
export { PixelSet, type MapShape, type PixelSetState } from './pixel-set';
export { pixelAuroc, pixelAveragePrecision, pixelF1Max } from './pixel-metrics';
export { aupro, resolveAuproConfig, DEFAULT_AUPRO_CONFIG, AUPRO_VARIANTS, type AuproConfig, type AuproVariant } from './aupro';
export { parseMetricName, formatMetricName, type MetricSpec } from './metric-names';
export { evaluateMetrics, type MetricInputs, type MetricOutcome } from './evaluate-metrics';
export type { Labels } from './validate';
export {
  evaluateCategories,
  resultsToMarkdown,
  resultsToCsv,
  resultsToJson,
  DEFAULT_TABLE_METRICS,
  DEFAULT_FORMAT,
  type CategoryInput,
  type CategoryRow,
  type ResultsTable,
  type FormatOptions,
} from './category-results';
export { checkAgainstReference, referenceTolerance, type ReferenceValue, type ReferenceCheck } from './reference-outcome';
export { checkReferenceCase, referenceCaseInputs, type ReferenceCase, type ReferenceArray } from './reference-case';
