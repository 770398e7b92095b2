/**
 * Why a metric could not be computed. Every degenerate input raises a {@link MetricError} with one of these
 * codes; no metric ever returns NaN.
 * - `empty`: no sample (or no pixel) was given.
 * - `length-mismatch`: labels and scores (or a mask and a map) have different sizes or shapes.
 * - `invalid-label`: a label or mask value is not 0 or 1.
 * - `non-finite`: a score is NaN or infinite.
 * - `single-class`: only one class is present where both are needed (AUROC).
 * - `no-regions`: AUPRO without any anomalous pixel (no ground-truth region).
 * - `no-negatives`: AUPRO without any normal pixel (the false-positive rate is undefined).
 * - `degenerate-curve`: the curve of a variant cannot be integrated (e.g. AnomalyCLIP's AUPRO on constant maps).
 * - `invalid-config`: an option is out of range (e.g. an FPR limit outside (0, 1]).
 */
export type MetricErrorCode =
  'empty' | 'length-mismatch' | 'invalid-label' | 'non-finite' | 'single-class' | 'no-regions' | 'no-negatives' | 'degenerate-curve' | 'invalid-config';

/** A typed error for degenerate or invalid metric input. `code` says why; the message names the input. */
export class MetricError extends Error {
  override readonly name = 'MetricError';
  constructor(
    readonly code: MetricErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** True when `e` is a {@link MetricError} (optionally with the given code). */
export function isMetricError(e: unknown, code?: MetricErrorCode): e is MetricError {
  return e instanceof MetricError && (code === undefined || e.code === code);
}
