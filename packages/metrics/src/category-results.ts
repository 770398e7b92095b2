import { MetricError } from './errors';
import { evaluateMetrics, type MetricInputs } from './evaluate-metrics';
import { parseMetricName } from './metric-names';

/** The metrics of a results table by default: what papers on MVTec AD / VisA report. */
export const DEFAULT_TABLE_METRICS: readonly string[] = Object.freeze([
  'image_auroc',
  'image_ap',
  'image_f1_max',
  'pixel_auroc',
  'pixel_ap',
  'pixel_f1_max',
  'aupro_mvtec@0.3',
]);

/** One category (e.g. `bottle`) to evaluate. */
export interface CategoryInput extends MetricInputs {
  name: string;
}

/** One row of a results table. A metric that is undefined for the category has `null` and its reason in `errors`. */
export interface CategoryRow {
  category: string;
  values: Record<string, number | null>;
  errors: Record<string, { code: string; message: string }>;
}

/** Per-category metrics and their mean over categories, as papers report them. */
export interface ResultsTable {
  metrics: string[];
  rows: CategoryRow[];
  /** Mean over categories; `null` when the metric is undefined for at least one category. */
  mean: Record<string, number | null>;
}

/**
 * Evaluates each category, then the unweighted mean over categories (the mean of per-category values, not
 * the metric of the pooled data).
 * @throws MetricError `empty` for no category, `invalid-config` for an unknown metric name.
 */
export function evaluateCategories(categories: readonly CategoryInput[], metrics: readonly string[] = DEFAULT_TABLE_METRICS): ResultsTable {
  if (categories.length === 0) throw new MetricError('empty', 'results table: no category given');
  for (const m of metrics) parseMetricName(m);
  const rows: CategoryRow[] = categories.map((cat) => {
    const outcomes = evaluateMetrics(metrics, cat);
    const row: CategoryRow = { category: cat.name, values: {}, errors: {} };
    for (const m of metrics) {
      const o = outcomes.get(m)!;
      if ('value' in o) row.values[m] = o.value;
      else {
        row.values[m] = null;
        row.errors[m] = { code: o.error.code, message: o.error.message };
      }
    }
    return row;
  });
  const mean: Record<string, number | null> = {};
  for (const m of metrics) {
    let sum = 0;
    let ok = true;
    for (const r of rows) {
      const v = r.values[m];
      if (v === null || v === undefined) ok = false;
      else sum += v;
    }
    mean[m] = ok ? sum / rows.length : null;
  }
  return { metrics: [...metrics], rows, mean };
}

/** How to print numbers: `scale` 100 gives percentages as papers print them. */
export interface FormatOptions {
  scale: number;
  digits: number;
}

export const DEFAULT_FORMAT: Readonly<FormatOptions> = Object.freeze({ scale: 100, digits: 1 });

function cell(v: number | null | undefined, o: FormatOptions): string {
  return v === null || v === undefined ? 'n/a' : (v * o.scale).toFixed(o.digits);
}

/** The table as Markdown: one row per category, then the mean. Undefined values print as `n/a`. */
export function resultsToMarkdown(t: ResultsTable, options: Partial<FormatOptions> = {}): string {
  const o = { ...DEFAULT_FORMAT, ...options };
  const head = `| category | ${t.metrics.join(' | ')} |`;
  const sep = `|---|${t.metrics.map(() => '---:').join('|')}|`;
  const lines = t.rows.map((r) => `| ${r.category} | ${t.metrics.map((m) => cell(r.values[m], o)).join(' | ')} |`);
  lines.push(`| **mean** | ${t.metrics.map((m) => cell(t.mean[m], o)).join(' | ')} |`);
  return [head, sep, ...lines].join('\n');
}

/** The table as CSV (full precision by default: `scale` 1, all digits), with a final `mean` row. Empty cells are undefined values. */
export function resultsToCsv(t: ResultsTable, options: Partial<FormatOptions> = {}): string {
  const scale = options.scale ?? 1;
  const fmt = (v: number | null | undefined): string =>
    v === null || v === undefined ? '' : options.digits === undefined ? String(v * scale) : (v * scale).toFixed(options.digits);
  const esc = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const lines = [['category', ...t.metrics].map(esc).join(',')];
  for (const r of t.rows) lines.push([esc(r.category), ...t.metrics.map((m) => fmt(r.values[m]))].join(','));
  lines.push(['mean', ...t.metrics.map((m) => fmt(t.mean[m]))].join(','));
  return lines.join('\n') + '\n';
}

/** The table as JSON (raw values, `null` for undefined ones, with the reasons). */
export function resultsToJson(t: ResultsTable): string {
  return JSON.stringify(t, null, 2);
}
