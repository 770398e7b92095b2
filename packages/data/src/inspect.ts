import { DataError, type DatasetIssue } from './errors';
import type { DatasetFileSystem } from './file-system';
import { loadSample } from './load-sample';
import { readDataset } from './readers/read-dataset';
import type { DatasetFormat, DatasetSample, Split } from './sample';

/** Options of {@link inspectDataset}. */
export interface InspectOptions {
  fs: DatasetFileSystem;
  /** The layout; detected when left out. */
  format?: DatasetFormat;
  /** Count corrupt or unreadable files as skipped (warnings) instead of errors. */
  skipCorrupt?: boolean;
  /** VisA split file, relative to the root. */
  visaSplitFile?: string;
  /** Files decoded at once (default 4). */
  concurrency?: number;
  /** Called after each checked sample. */
  onProgress?: (done: number, total: number) => void;
}

/** Counts of one category. */
export interface CategorySummary {
  category: string;
  normal: number;
  anomalous: number;
  /** Samples with at least one mask file. */
  masks: number;
  /** Anomalous samples without a mask (image-level labels only). */
  anomalousWithoutMask: number;
  /** Normal / anomalous counts per split. */
  splits: Partial<Record<Split, { normal: number; anomalous: number }>>;
  /** Samples per defect type (`good` included). */
  defectTypes: Record<string, number>;
  /** Images per size, keyed `WxH`. */
  imageSizes: Record<string, number>;
  /** Corrupt files skipped (with `skipCorrupt`). */
  skipped: number;
}

/** What {@link inspectDataset} found. */
export interface InspectReport {
  root: string;
  /** The layout read, or null when none could be detected. */
  format: DatasetFormat | null;
  detected: boolean;
  categories: CategorySummary[];
  totals: { images: number; normal: number; anomalous: number; masks: number; skipped: number };
  /** Everything that makes the set wrong; each names its file. */
  errors: DatasetIssue[];
  warnings: DatasetIssue[];
  /** True when there are no errors. */
  ok: boolean;
}

/**
 * Reads a dataset and checks every file: each image and mask decodes, every mask exists and has its image's
 * size, anomalous images have a non-empty mask and normal images an empty one (or none). Returns the counts
 * per category and every problem, each naming its file; corrupt files become counted warnings with
 * `skipCorrupt`, errors otherwise.
 */
export async function inspectDataset(root: string, options: InspectOptions): Promise<InspectReport> {
  let index;
  try {
    index = await readDataset(root, {
      fs: options.fs,
      strict: false,
      ...(options.format ? { format: options.format } : {}),
      ...(options.skipCorrupt ? { skipCorrupt: true } : {}),
      ...(options.visaSplitFile ? { visaSplitFile: options.visaSplitFile } : {}),
    });
  } catch (e) {
    const issues = (e as { issues?: DatasetIssue[] }).issues ?? [{ path: root, kind: 'layout' as const, message: (e as Error).message }];
    return {
      root,
      format: options.format ?? null,
      detected: options.format === undefined,
      categories: [],
      totals: { images: 0, normal: 0, anomalous: 0, masks: 0, skipped: 0 },
      errors: issues,
      warnings: [],
      ok: false,
    };
  }
  const errors = [...index.errors];
  const warnings = [...index.warnings];
  const summaries = new Map<string, CategorySummary>();
  const summaryOf = (category: string): CategorySummary => {
    let s = summaries.get(category);
    if (!s) {
      s = { category, normal: 0, anomalous: 0, masks: 0, anomalousWithoutMask: 0, splits: {}, defectTypes: {}, imageSizes: {}, skipped: 0 };
      summaries.set(category, s);
    }
    return s;
  };
  // Samples the reader skipped while indexing (KSDD2 masks) count against their category.
  for (const w of index.warnings) if (w.kind === 'skipped-corrupt') summaryOf(index.format === 'ksdd2' ? 'ksdd2' : '(unknown)').skipped++;
  const lossyWarned = new Set<string>();

  const check = async (sample: DatasetSample): Promise<void> => {
    const s = summaryOf(sample.category);
    for (const m of sample.maskPaths) {
      if (/\.jpe?g$/i.test(m) && !lossyWarned.has(sample.category)) {
        lossyWarned.add(sample.category);
        warnings.push({ path: m, kind: 'lossy-mask', message: `masks of ${sample.category} are JPEG (lossy); binarised at >= 128 instead of > 0` });
      }
    }
    let size: string | null = null;
    try {
      const loaded = await loadSample(sample, options.fs);
      size = `${loaded.image.width}x${loaded.image.height}`;
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      if (options.skipCorrupt && (e.kind === 'corrupt' || e.kind === 'missing-file')) {
        warnings.push({ path: e.path, kind: 'skipped-corrupt', message: `${e.detail}; sample ${sample.imagePath} skipped` });
        s.skipped++;
        return;
      }
      errors.push({ path: e.path, kind: e.kind, message: e.detail });
    }
    if (sample.label === 1) s.anomalous++;
    else s.normal++;
    if (sample.maskPaths.length > 0) s.masks++;
    else if (sample.label === 1) s.anomalousWithoutMask++;
    const split = (s.splits[sample.split] ??= { normal: 0, anomalous: 0 });
    if (sample.label === 1) split.anomalous++;
    else split.normal++;
    s.defectTypes[sample.defectType] = (s.defectTypes[sample.defectType] ?? 0) + 1;
    if (size) s.imageSizes[size] = (s.imageSizes[size] ?? 0) + 1;
  };

  const samples = index.samples;
  for (const sample of samples) summaryOf(sample.category);
  let next = 0;
  let done = 0;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  await Promise.all(
    Array.from({ length: Math.min(concurrency, samples.length) }, async () => {
      while (next < samples.length) {
        const sample = samples[next++]!;
        await check(sample);
        options.onProgress?.(++done, samples.length);
      }
    }),
  );
  const byPath = (a: DatasetIssue, b: DatasetIssue) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  errors.sort(byPath);
  warnings.sort(byPath);
  const categories = [...summaries.values()].sort((a, b) => (a.category < b.category ? -1 : a.category > b.category ? 1 : 0));
  const totals = { images: 0, normal: 0, anomalous: 0, masks: 0, skipped: 0 };
  for (const c of categories) {
    totals.normal += c.normal;
    totals.anomalous += c.anomalous;
    totals.masks += c.masks;
    totals.skipped += c.skipped;
  }
  totals.images = totals.normal + totals.anomalous;
  return { root, format: index.format, detected: index.detected, categories, totals, errors, warnings, ok: errors.length === 0 };
}

/**
 * The "image sizes" cell: up to three sizes listed with their counts; more are summarised as the number of
 * distinct sizes, the width and height ranges and the most common size (the full list is in the JSON report).
 */
export function summarizeSizes(sizes: Record<string, number>): string {
  const entries = Object.entries(sizes).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (entries.length <= 3) return entries.map(([k, v]) => `${k} (${v})`).join(', ');
  const dims = entries.map(([k]) => k.split('x').map(Number) as [number, number]);
  const ws = dims.map((d) => d[0]);
  const hs = dims.map((d) => d[1]);
  const [top, count] = entries[0]!;
  return `${entries.length} sizes, width ${Math.min(...ws)}-${Math.max(...ws)}, height ${Math.min(...hs)}-${Math.max(...hs)}, most common ${top} (${count})`;
}

/** A human-readable summary: one table row per category, then every error and warning. */
export function formatInspectReport(report: InspectReport): string {
  const lines: string[] = [];
  lines.push(`dataset ${report.root}: format ${report.format ?? 'unknown'}${report.detected && report.format ? ' (detected)' : ''}`);
  const header = ['category', 'normal', 'anomalous', 'masks', 'no-mask anomalous', 'skipped', 'splits', 'image sizes'];
  const rows = report.categories.map((c) => [
    c.category,
    String(c.normal),
    String(c.anomalous),
    String(c.masks),
    String(c.anomalousWithoutMask),
    String(c.skipped),
    Object.entries(c.splits)
      .map(([k, v]) => `${k} ${v.normal}/${v.anomalous}`)
      .join(', '),
    summarizeSizes(c.imageSizes),
  ]);
  const t = report.totals;
  rows.push(['total', String(t.normal), String(t.anomalous), String(t.masks), '', String(t.skipped), '', '']);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  lines.push(fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt));
  lines.push('(splits: normal/anomalous)');
  if (report.warnings.length > 0) {
    lines.push('', `${report.warnings.length} warning${report.warnings.length === 1 ? '' : 's'}:`);
    for (const w of report.warnings) lines.push(`  warning [${w.kind}] ${w.path}: ${w.message}`);
  }
  if (report.errors.length > 0) {
    lines.push('', `${report.errors.length} error${report.errors.length === 1 ? '' : 's'}:`);
    for (const e of report.errors) lines.push(`  error [${e.kind}] ${e.path}: ${e.message}`);
  } else {
    lines.push('', 'no errors');
  }
  return lines.join('\n');
}
