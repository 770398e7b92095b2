import type { MetricErrorCode } from './errors';
import type { MetricOutcome } from './evaluate-metrics';
import { parseMetricName } from './metric-names';

/**
 * A value recorded from a reference implementation (the golden-fixture format): a number (possibly -0.0),
 * `{ error, message }` when the reference raised, or `{ nonfinite }` when it returned NaN or ±inf.
 */
export type ReferenceValue = number | { error: string; message?: string } | { nonfinite: string };

/** Result of {@link checkAgainstReference}. */
export interface ReferenceCheck {
  ok: boolean;
  absError: number;
  relError: number;
  /** What was checked when it was not a plain numeric comparison, or why it failed. */
  note?: string;
}

/** Tolerance for a metric name: float64 references to 1e-12 relative; anomalib's float32 AUPRO to 1e-6 absolute. */
export function referenceTolerance(name: string): { atol: number; rtol: number } {
  const spec = parseMetricName(name);
  if (spec.metric === 'aupro' && spec.variant === 'anomalib') return { atol: 1e-6, rtol: 0 };
  return { atol: 0, rtol: 1e-12 };
}

/** The error code we raise where the reference raised with this message. */
function expectedCode(message: string | undefined): MetricErrorCode | undefined {
  if (!message) return undefined;
  if (/only one class/i.test(message)) return 'single-class';
  if (/nan|infinity/i.test(message)) return 'non-finite';
  return undefined;
}

/**
 * Checks one of our outcomes against the reference's, following the documented behaviour (README,
 * "Degenerate input"):
 * - the reference returned a number: we return the same number (zeros compared with their sign, so sklearn's
 *   -0.0 must be -0.0), to the tolerance of {@link referenceTolerance}; or, only where the reference itself
 *   warned (`warnings` not empty), we may raise a MetricError instead of returning its meaningless number;
 * - the reference raised: we raise a MetricError, with the matching code when the message says why
 *   (one class -> `single-class`, NaN/infinity -> `non-finite`);
 * - the reference returned NaN/inf: we raise a MetricError (we never return NaN).
 */
export function checkAgainstReference(
  name: string,
  ours: MetricOutcome | undefined,
  reference: ReferenceValue,
  warnings: readonly string[] = [],
): ReferenceCheck {
  const fail = (note: string): ReferenceCheck => ({ ok: false, absError: NaN, relError: NaN, note });
  if (ours === undefined) return fail('no counterpart produced');
  if (typeof reference === 'number') {
    if ('error' in ours) {
      if (warnings.length > 0) {
        return { ok: true, absError: 0, relError: 0, note: `reference warned and returned ${reference}; we raise ${ours.error.code} (documented)` };
      }
      return fail(`we raise ${ours.error.code} (${ours.error.message}); reference returned ${reference}`);
    }
    const v = ours.value;
    if (reference === 0) {
      const ok = Object.is(v, reference);
      return {
        ok,
        absError: Math.abs(v),
        relError: ok ? 0 : Infinity,
        ...(ok ? {} : { note: `got ${Object.is(v, -0) ? '-0' : v}, expected ${Object.is(reference, -0) ? '-0' : '0'}` }),
      };
    }
    const abs = Math.abs(v - reference);
    const rel = abs / Math.abs(reference);
    const tol = referenceTolerance(name);
    const ok = abs <= tol.atol + tol.rtol * Math.abs(reference);
    return { ok, absError: abs, relError: rel, ...(ok ? {} : { note: `got ${v}, expected ${reference}` }) };
  }
  if ('error' in reference) {
    if (!('error' in ours)) return fail(`we return ${ours.value}; reference raised ${reference.error}: ${reference.message ?? ''}`);
    const code = expectedCode(reference.message);
    if (code && ours.error.code !== code) return fail(`we raise ${ours.error.code}, expected ${code} (reference: ${reference.message})`);
    return { ok: true, absError: 0, relError: 0, note: `raises ${ours.error.code} (reference: ${reference.error})` };
  }
  if (!('error' in ours)) return fail(`we return ${ours.value}; reference returned ${reference.nonfinite}, so we must raise`);
  return { ok: true, absError: 0, relError: 0, note: `raises ${ours.error.code} (reference: ${reference.nonfinite})` };
}
