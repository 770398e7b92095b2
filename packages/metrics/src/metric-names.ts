import { MetricError } from './errors';
import { AUPRO_VARIANTS, type AuproVariant } from './aupro';

/**
 * A metric named as in results tables and fixtures: `image_auroc`, `image_ap`, `image_f1_max`,
 * `image_f1_max_threshold`, `image_f1_max_index`, `pixel_auroc`, `pixel_ap`, `pixel_f1_max`,
 * `pixel_f1_max_threshold`, and `aupro_<variant>@<fpr limit>` (e.g. `aupro_mvtec@0.3`), so that a reported
 * AUPRO always says which definition it is.
 */
export type MetricSpec =
  | { level: 'image' | 'pixel'; metric: 'auroc' | 'ap' | 'f1_max' | 'f1_max_threshold' }
  | { level: 'image'; metric: 'f1_max_index' }
  | { level: 'pixel'; metric: 'aupro'; variant: AuproVariant; fprLimit: number };

const SIMPLE = /^(image|pixel)_(auroc|ap|f1_max|f1_max_threshold|f1_max_index)$/;
const AUPRO = /^aupro_([a-z]+)@(\d+(?:\.\d+)?(?:e-?\d+)?)$/;

/** Parses a metric name. @throws MetricError `invalid-config` for an unknown name. */
export function parseMetricName(name: string): MetricSpec {
  const s = SIMPLE.exec(name);
  if (s) {
    const level = s[1] as 'image' | 'pixel';
    const metric = s[2] as 'auroc' | 'ap' | 'f1_max' | 'f1_max_threshold' | 'f1_max_index';
    if (metric === 'f1_max_index') {
      if (level !== 'image') throw new MetricError('invalid-config', `metric ${name}: the threshold index exists for image-level sets only`);
      return { level, metric };
    }
    return { level, metric };
  }
  const a = AUPRO.exec(name);
  if (a) {
    const variant = a[1] as AuproVariant;
    if (!AUPRO_VARIANTS.includes(variant)) {
      throw new MetricError('invalid-config', `metric ${name}: unknown AUPRO variant ${JSON.stringify(variant)}, expected one of ${AUPRO_VARIANTS.join(', ')}`);
    }
    const fprLimit = Number(a[2]);
    if (!(fprLimit > 0 && fprLimit <= 1)) throw new MetricError('invalid-config', `metric ${name}: FPR limit ${a[2]} is not in (0, 1]`);
    return { level: 'pixel', metric: 'aupro', variant, fprLimit };
  }
  throw new MetricError(
    'invalid-config',
    `unknown metric name ${JSON.stringify(name)}; expected image_/pixel_ + auroc|ap|f1_max|f1_max_threshold, image_f1_max_index, or aupro_<${AUPRO_VARIANTS.join('|')}>@<limit>`,
  );
}

/** The name of a spec (inverse of {@link parseMetricName}). */
export function formatMetricName(spec: MetricSpec): string {
  if (spec.metric === 'aupro') return `aupro_${spec.variant}@${spec.fprLimit}`;
  return `${spec.level}_${spec.metric}`;
}
