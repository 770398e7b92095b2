import { MetricError } from './errors';
import { auproMvtecFromCounts, checkLimit } from './aupro-mvtec';
import { auproAnomalib } from './aupro-anomalib';
import { auproAnomalyclip } from './aupro-anomalyclip';
import type { PixelSet } from './pixel-set';

/**
 * Which AUPRO definition. They differ by up to several 1e-2 on the same data, so results are only comparable
 * within one variant. See the README for each exact definition.
 * - `mvtec`: MVTec AD's official evaluation code (the standard one; the default).
 * - `anomalib`: anomalib's `AUPRO` (per-region ROC resampled by index, float32).
 * - `anomalyclip`: AnomalyCLIP's `cal_pro_score` (200 linear thresholds, FPRs rescaled min-max).
 */
export type AuproVariant = 'mvtec' | 'anomalib' | 'anomalyclip';

export const AUPRO_VARIANTS: readonly AuproVariant[] = ['mvtec', 'anomalib', 'anomalyclip'];

export interface AuproConfig {
  variant: AuproVariant;
  /** Integrate the PRO curve over FPR in [0, fprLimit], and divide by it (the area is normalised). In (0, 1]. */
  fprLimit: number;
  /** Number of thresholds of the `anomalyclip` variant (its `max_step`). */
  maxSteps: number;
}

export const DEFAULT_AUPRO_CONFIG: Readonly<AuproConfig> = Object.freeze({ variant: 'mvtec', fprLimit: 0.3, maxSteps: 200 });

/** Fills defaults and validates. @throws MetricError `invalid-config` */
export function resolveAuproConfig(config: Partial<AuproConfig> = {}): AuproConfig {
  const c: AuproConfig = { ...DEFAULT_AUPRO_CONFIG, ...config };
  if (!AUPRO_VARIANTS.includes(c.variant)) {
    throw new MetricError('invalid-config', `AUPRO config: variant is ${JSON.stringify(c.variant)}, expected one of ${AUPRO_VARIANTS.join(', ')}`);
  }
  checkLimit(c.fprLimit, 'AUPRO config');
  if (!(Number.isInteger(c.maxSteps) && c.maxSteps > 0)) {
    throw new MetricError('invalid-config', `AUPRO config: maxSteps is ${c.maxSteps}, expected a positive integer`);
  }
  return c;
}

/**
 * Area under the per-region-overlap curve up to an FPR limit, normalised by the limit.
 * @throws MetricError `no-regions` when no mask has an anomalous pixel, `no-negatives`, `empty`,
 *   `degenerate-curve`, `invalid-config`.
 */
export function aupro(set: PixelSet, config: Partial<AuproConfig> = {}): number {
  const c = resolveAuproConfig(config);
  const what = `${set.name}: AUPRO (${c.variant}, FPR limit ${c.fprLimit})`;
  switch (c.variant) {
    case 'mvtec':
      set.data();
      return auproMvtecFromCounts(set.ranked(), set.regionCount, c.fprLimit, what);
    case 'anomalib': {
      const d = set.data();
      if (d.regionSizes.length === 0) return auproAnomalib(d, new Uint32Array(0), c.fprLimit, what);
      return auproAnomalib(d, set.sortedNegatives(), c.fprLimit, what);
    }
    case 'anomalyclip':
      return auproAnomalyclip(set.data(), c.fprLimit, c.maxSteps, what);
  }
}
