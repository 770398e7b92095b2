import { DataError, type DatasetIssue } from './errors';
import { joinPath, listSorted, type DatasetFileSystem } from './file-system';
import { loadSample } from './load-sample';
import { detectFormat, readDataset } from './readers/read-dataset';
import type { FolderLayout } from './readers/folder';
import { VISA_DEFAULT_SPLIT_FILE } from './readers/visa';
import type { DatasetFormat, DatasetIndex, DatasetSample, Split } from './sample';

/** Options of {@link inspectDataset}. */
export interface InspectOptions {
  fs: DatasetFileSystem;
  /** The layout; detected when left out. */
  format?: DatasetFormat;
  /** Count corrupt or unreadable files as skipped (warnings) instead of errors. */
  skipCorrupt?: boolean;
  /** VisA split file, relative to the root. */
  visaSplitFile?: string;
  /** Other names for the folders of the `folder` layout (`no/` + `yes/`). */
  folder?: FolderLayout;
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
  /**
   * Folders under the root that nothing was read from, each with the reason (also among the warnings), and
   * the layout the folder has of its own, if any.
   */
  skippedFolders: { path: string; reason: string; format?: DatasetFormat }[];
  /**
   * A root holding several datasets (sub-folders with a layout, beside the root's own layout or without one):
   * the report of each, inspected on its own (the root's own first, when it has one). The root's categories
   * (a sub-folder's named `<folder>/<category>`), totals, errors and warnings combine them.
   */
  datasets?: InspectReport[];
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
  if (options.format === undefined && (await options.fs.kind(root)) === 'directory') {
    const own = await detectFormat(root, options.fs, options.folder);
    if (own.format === null) {
      // no layout of its own: the sub-folders that have one are inspected each on its own
      const found: { path: string; format: DatasetFormat }[] = [];
      const skipped: InspectReport['skippedFolders'] = [];
      for (const name of await visibleSubfolders(options.fs, root)) {
        const path = joinPath(root, name);
        const d = await detectFormat(path, options.fs, options.folder);
        if (d.format !== null) found.push({ path, format: d.format });
        else skipped.push({ path, reason: `not inspected: ${d.reason.replace(/; pass a format .*$/, '')}` });
      }
      if (found.length > 0) return combine(root, await inspectEach(found, options), skipped);
    } else {
      // a layout of its own, and sub-folders it does not read that hold datasets of other layouts: those too
      const report = await inspectOne(root, options);
      const nested = report.skippedFolders.filter((f): f is typeof f & { format: DatasetFormat } => f.format !== undefined);
      if (nested.length === 0) return report;
      // the root's skipped folders are listed once, for the whole root
      const own: InspectReport = { ...report, skippedFolders: [], warnings: report.warnings.filter((w) => w.kind !== 'skipped-folder') };
      const paths = new Set(nested.map((f) => f.path));
      return combine(
        root,
        [own, ...(await inspectEach(nested, options))],
        report.skippedFolders.filter((f) => !paths.has(f.path)),
      );
    }
  }
  return inspectOne(root, options);
}

async function inspectEach(found: readonly { path: string }[], options: InspectOptions): Promise<InspectReport[]> {
  const out: InspectReport[] = [];
  for (const f of found) out.push(await inspectOne(f.path, options));
  return out;
}

/**
 * One report for a root holding several datasets: categories of the sub-folders' datasets named
 * `<folder>/<category>`, totals summed, every error and warning, and the folders left out (`skipped`).
 */
function combine(root: string, datasets: InspectReport[], skipped: InspectReport['skippedFolders']): InspectReport {
  const warnings = [...skipped.map((f) => ({ path: f.path, kind: 'skipped-folder' as const, message: f.reason })), ...datasets.flatMap((d) => d.warnings)];
  const errors = datasets.flatMap((d) => d.errors);
  const categories = datasets.flatMap((d) =>
    d.root === root ? d.categories : d.categories.map((c) => ({ ...c, category: `${lastSegment(d.root)}/${c.category}` })),
  );
  const totals = { images: 0, normal: 0, anomalous: 0, masks: 0, skipped: 0 };
  for (const d of datasets) for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += d.totals[k];
  return {
    root,
    format: null,
    detected: true,
    categories,
    totals,
    errors: errors.sort(byPath),
    warnings: warnings.sort(byPath),
    skippedFolders: skipped,
    datasets,
    ok: errors.length === 0,
  };
}

async function inspectOne(root: string, options: InspectOptions): Promise<InspectReport> {
  let index;
  try {
    index = await readDataset(root, {
      fs: options.fs,
      strict: false,
      ...(options.format ? { format: options.format } : {}),
      ...(options.skipCorrupt ? { skipCorrupt: true } : {}),
      ...(options.visaSplitFile ? { visaSplitFile: options.visaSplitFile } : {}),
      ...(options.folder ? { folder: options.folder } : {}),
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
      skippedFolders: [],
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
  const skippedFolders = await unreadFolders(index, options);
  for (const f of skippedFolders) warnings.push({ path: f.path, kind: 'skipped-folder', message: f.reason });
  const categories = [...summaries.values()].sort((a, b) => (a.category < b.category ? -1 : a.category > b.category ? 1 : 0));
  for (const c of categories) {
    const test = c.splits.test;
    if (!test) continue;
    if (test.normal === 0 && test.anomalous > 0) {
      warnings.push({
        path: root,
        kind: 'one-class-test',
        message: `category ${c.category}: the test split has ${test.anomalous} anomalous images and no normal one: image AUROC is undefined, and image F1-max and AP count anomalous images only (both 1 whatever the scores)`,
      });
    } else if (test.anomalous === 0 && test.normal > 0) {
      warnings.push({
        path: root,
        kind: 'one-class-test',
        message: `category ${c.category}: the test split has ${test.normal} normal images and no anomalous one: image AUROC is undefined, image F1-max and AP are 0 whatever the scores, and pixel metrics have no anomalous pixel`,
      });
    }
  }
  errors.sort(byPath);
  warnings.sort(byPath);
  const totals = { images: 0, normal: 0, anomalous: 0, masks: 0, skipped: 0 };
  for (const c of categories) {
    totals.normal += c.normal;
    totals.anomalous += c.anomalous;
    totals.masks += c.masks;
    totals.skipped += c.skipped;
  }
  totals.images = totals.normal + totals.anomalous;
  return { root, format: index.format, detected: index.detected, categories, totals, errors, warnings, skippedFolders, ok: errors.length === 0 };
}

const byPath = (a: DatasetIssue, b: DatasetIssue) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

function lastSegment(path: string): string {
  const parts = path.split('/').filter((p) => p !== '');
  return parts[parts.length - 1] ?? path;
}

/** Sub-folder names of a folder, hidden ones (`.git`, `.cache`) left out. */
async function visibleSubfolders(fs: DatasetFileSystem, path: string): Promise<string[]> {
  return (await listSorted(fs, path)).filter((e) => e.kind === 'directory' && !e.name.startsWith('.')).map((e) => e.name);
}

/**
 * The root's sub-folders (hidden ones aside) holding no image, mask or split file of the layout read, each with
 * why: what the layout needs of a folder, and the folder's own layout when it has one.
 */
async function unreadFolders(index: DatasetIndex, options: InspectOptions): Promise<InspectReport['skippedFolders']> {
  const root = index.root;
  const used = new Set<string>();
  const top = (path: string): string | null => {
    if (!path.startsWith(`${root}/`)) return null;
    const rest = path.slice(root.length + 1);
    const slash = rest.indexOf('/');
    return slash < 0 ? null : rest.slice(0, slash);
  };
  for (const s of index.samples)
    for (const p of [s.imagePath, ...s.maskPaths]) {
      const t = top(p);
      if (t !== null) used.add(t);
    }
  if (index.format === 'visa') {
    const t = top(joinPath(root, options.visaSplitFile ?? VISA_DEFAULT_SPLIT_FILE));
    if (t !== null) used.add(t);
  }
  const needs: Partial<Record<DatasetFormat, string>> = {
    mvtec: 'it has no train/ or test/ folder',
    mpdd: 'it has no train/ or test/ folder',
    btad: 'it has no train/ or test/ folder',
    'dtd-synthetic': 'it has no train/ or test/ folder',
    'mvtec-3d': 'it has no train/ or test/ folder',
    'mvtec-loco': 'it has no train/ or test/ folder',
    folder: 'it has no good/ folder',
    dagm: 'it is not a ClassN folder',
  };
  const out: InspectReport['skippedFolders'] = [];
  for (const name of await visibleSubfolders(options.fs, root)) {
    if (used.has(name)) continue;
    const path = joinPath(root, name);
    const own = await detectFormat(path, options.fs, options.folder);
    if (own.format !== null)
      out.push({
        path,
        reason: `not read as part of this ${index.format} dataset: it holds a ${own.format} dataset of its own (inspect it on its own)`,
        format: own.format,
      });
    else out.push({ path, reason: `not read as part of this ${index.format} dataset: ${needs[index.format] ?? 'it holds no file this layout reads'}` });
  }
  return out;
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
  if (report.datasets) {
    const t = report.totals;
    const lines = [`${report.root}: ${report.datasets.length} dataset${report.datasets.length === 1 ? '' : 's'} in its sub-folders, each inspected on its own`];
    for (const d of report.datasets) lines.push('', formatInspectReport(d));
    lines.push(
      '',
      `all datasets: ${t.images} images (${t.normal} normal, ${t.anomalous} anomalous), ${t.masks} with masks, ${t.skipped} skipped; ${report.errors.length} error${report.errors.length === 1 ? '' : 's'}`,
    );
    if (report.skippedFolders.length > 0) {
      lines.push(`${report.skippedFolders.length} folder${report.skippedFolders.length === 1 ? '' : 's'} of ${report.root} not inspected:`);
      for (const f of report.skippedFolders) lines.push(`  warning [skipped-folder] ${f.path}: ${f.reason}`);
    }
    return lines.join('\n');
  }
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
  const fmt = (r: string[]) =>
    r
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
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
