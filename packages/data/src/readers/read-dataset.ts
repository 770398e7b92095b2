import { DatasetError } from '../errors';
import { joinPath, listSorted, type DatasetFileSystem } from '../file-system';
import { DATASET_FORMATS, type DatasetFormat, type DatasetIndex } from '../sample';
import { type DatasetReader, type ReaderContext, subfolders } from './context';
import { dagmClasses, dagmReader } from './dagm';
import { folderCategories, folderReaderWith, type FolderLayout } from './folder';
import { ksdd2Reader } from './ksdd2';
import { metaJsonReader } from './meta-json';
import { mvtecCategories, mvtecReader } from './mvtec';
import { visaReader, VISA_DEFAULT_SPLIT_FILE } from './visa';

/** Options of {@link readDataset}. */
export interface ReadDatasetOptions {
  /** Where the files are (`nodeFileSystem` from `@hgm/data/node` for a local disk). */
  fs: DatasetFileSystem;
  /** The layout; detected from the folder structure when left out. */
  format?: DatasetFormat;
  /** Throw a {@link DatasetError} listing every error (default), or return them in the index (`false`, as inspect does). */
  strict?: boolean;
  /** Skip, with a counted warning, files that cannot be decoded while indexing (KSDD2 masks) instead of failing. */
  skipCorrupt?: boolean;
  /** VisA split file, relative to the root (default `split_csv/1cls.csv`). */
  visaSplitFile?: string;
  /** Other names for the folders of the `folder` layout (`no/` + `yes/` for BrainMRI and HeadCT). */
  folder?: FolderLayout;
}

function readerFor(format: DatasetFormat, options: ReadDatasetOptions): DatasetReader {
  switch (format) {
    case 'mvtec':
    case 'mpdd':
    case 'btad':
    case 'dtd-synthetic':
    case 'mvtec-3d':
    case 'mvtec-loco':
      return mvtecReader(format);
    case 'visa':
      return visaReader(options.visaSplitFile ?? VISA_DEFAULT_SPLIT_FILE);
    case 'ksdd2':
      return ksdd2Reader;
    case 'dagm':
      return dagmReader;
    case 'meta-json':
      return metaJsonReader();
    case 'folder':
      return folderReaderWith(options.folder ?? {});
  }
}

/**
 * Guesses the layout of `root` from its structure, in this order: `meta.json` (meta-json), `split_csv/` (visa),
 * `ClassN/` folders (dagm), `train/` + `test/` with `*_GT` files (ksdd2), category folders with `test/`
 * (MVTec family: `rgb/` inside defect folders means mvtec-3d, `logical_anomalies` mvtec-loco, `ok`/`ko` btad,
 * otherwise mvtec, which also reads MPDD and DTD-Synthetic), folders with `good/` (folder; with `folder`'s
 * names given, the folder layout).
 * @returns the format, or null with the reason when nothing matches
 */
export async function detectFormat(
  root: string,
  fs: DatasetFileSystem,
  folder: FolderLayout = {},
): Promise<{ format: DatasetFormat } | { format: null; reason: string }> {
  const ctx: ReaderContext = { fs, skipCorrupt: false, errors: [], warnings: [] };
  const kind = await fs.kind(root);
  if (kind !== 'directory') return { format: null, reason: kind === null ? 'folder does not exist' : 'not a folder' };
  if ((await fs.kind(joinPath(root, 'meta.json'))) === 'file') return { format: 'meta-json' };
  if ((await fs.kind(joinPath(root, 'split_csv'))) === 'directory') return { format: 'visa' };
  if ((await dagmClasses(ctx, root)).length > 0) return { format: 'dagm' };
  const top = await subfolders(ctx, root);
  if (top.includes('train') && top.includes('test')) {
    const names = (await listSorted(fs, joinPath(root, 'train'))).map((e) => e.name);
    if (names.some((n) => /_GT\.\w+$/i.test(n))) return { format: 'ksdd2' };
  }
  const categories = await mvtecCategories(ctx, root);
  if (categories.length > 0) {
    for (const dir of categories) {
      const test = await subfolders(ctx, joinPath(dir, 'test'));
      const train = await subfolders(ctx, joinPath(dir, 'train'));
      if (test.includes('logical_anomalies') || test.includes('structural_anomalies')) return { format: 'mvtec-loco' };
      if (train.includes('ok') || test.includes('ok') || test.includes('ko')) return { format: 'btad' };
      for (const d of test) if ((await subfolders(ctx, joinPath(dir, 'test', d))).includes('rgb')) return { format: 'mvtec-3d' };
    }
    return { format: 'mvtec' };
  }
  if ((await folderCategories(ctx, root, folder.normalDir)).length > 0) return { format: 'folder' };
  // a layout with other folder names was asked for: it is the folder layout, whose reader names what is missing
  if (folder.normalDir !== undefined || folder.abnormalDirs !== undefined) return { format: 'folder' };
  return {
    format: null,
    reason: `no known layout (found folders: ${top.slice(0, 12).join(', ') || 'none'}); pass a format (${DATASET_FORMATS.join(', ')})`,
  };
}

/**
 * Indexes a dataset: every image with its masks, label, category, defect type and split. Nothing is decoded
 * except where the layout needs it for labels (KSDD2 masks).
 *
 * @throws DatasetError listing every error (missing masks, unreadable rows, ...) unless `strict: false`
 */
export async function readDataset(root: string, options: ReadDatasetOptions): Promise<DatasetIndex> {
  let format = options.format;
  const detected = format === undefined;
  if (format !== undefined && !DATASET_FORMATS.includes(format)) {
    throw new DatasetError(root, [{ path: root, kind: 'layout', message: `unknown format '${format}' (expected one of ${DATASET_FORMATS.join(', ')})` }]);
  }
  if (format === undefined) {
    const d = await detectFormat(root, options.fs, options.folder);
    if (d.format === null) throw new DatasetError(root, [{ path: root, kind: 'layout', message: `cannot detect the dataset layout: ${d.reason}` }]);
    format = d.format;
  } else if ((await options.fs.kind(root)) !== 'directory') {
    throw new DatasetError(root, [{ path: root, kind: 'layout', message: 'dataset folder does not exist' }]);
  }
  const ctx: ReaderContext = { fs: options.fs, skipCorrupt: options.skipCorrupt ?? false, errors: [], warnings: [] };
  const samples = await readerFor(format, options)(root, ctx);
  if (samples.length === 0 && ctx.errors.length === 0) ctx.errors.push({ path: root, kind: 'layout', message: `no images found (${format} layout)` });
  if ((options.strict ?? true) && ctx.errors.length > 0) throw new DatasetError(root, ctx.errors);
  return { root, format, detected, samples, errors: ctx.errors, warnings: ctx.warnings };
}
