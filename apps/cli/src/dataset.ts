/** Reads the samples a command works on: a dataset root, its layout, a split and categories, with clear errors. */
import { readDatasetFromDisk, DATASET_FORMATS, type DatasetFormat, type DatasetSample, type FolderLayout } from '@hgm/data/node';
import { stat } from 'node:fs/promises';
import type { Schema } from './config-file';
import { CliError, EXIT } from './exit-codes';

export const SPLIT_CHOICES = ['test', 'train', 'all'] as const;
export const FORMAT_CHOICES = DATASET_FORMATS;

/** The schema fields of a dataset selection (`--data`, `--format`, `--categories`, `--split`). */
export const DATASET_FIELDS: Schema = {
  data: { type: 'string', description: 'dataset root' },
  format: { type: 'string', choices: FORMAT_CHOICES, description: 'dataset layout (detected when left out)' },
  categories: { type: 'string[]', description: 'categories (default all)' },
  split: { type: 'string', choices: SPLIT_CHOICES, description: 'split' },
  normalDir: { type: 'string', description: 'folder layout: the folder of normal images (default good)' },
  abnormalDir: { type: 'string[]', description: 'folder layout: the folders of anomalous images (default: every other folder)' },
};

/** The help of `--normal-dir` and `--abnormal-dir` (train, eval, data inspect). */
export const FOLDER_NAME_OPTIONS = [
  ['--normal-dir <name>', 'folder layout: the folder of normal images (default good; BrainMRI and HeadCT: no)'],
  ['--abnormal-dir <list>', 'folder layout: comma-separated folders of anomalous images (default every other folder; BrainMRI and HeadCT: yes)'],
] as const;

export interface DatasetSelection {
  data: string;
  format?: string | undefined;
  categories?: string[] | undefined;
  split: string;
  normalDir?: string | undefined;
  abnormalDir?: string[] | undefined;
}

/** The `folder` option of the readers from `--normal-dir` / `--abnormal-dir`, when either is given. */
export function folderLayoutOf(sel: { normalDir?: string | undefined; abnormalDir?: string[] | undefined }): { folder: FolderLayout } | Record<string, never> {
  if (sel.normalDir === undefined && sel.abnormalDir === undefined) return {};
  return {
    folder: {
      ...(sel.normalDir !== undefined ? { normalDir: sel.normalDir } : {}),
      ...(sel.abnormalDir !== undefined ? { abnormalDirs: sel.abnormalDir } : {}),
    },
  };
}

/** Indexes the dataset (strict: every layout error is listed) and filters by split and categories. */
/** Exit 66 naming the option when the dataset root does not exist (a missing input, not bad data). */
export async function requireDatasetRoot(root: string, option = '--data'): Promise<void> {
  const s = await stat(root).catch(() => null);
  if (!s) throw new CliError(`${option} ${root}: no such folder`, EXIT.noInput);
  if (!s.isDirectory()) throw new CliError(`${option} ${root}: not a folder (a dataset root is a folder)`, EXIT.noInput);
}

export async function selectSamples(sel: DatasetSelection): Promise<{ samples: DatasetSample[]; format: DatasetFormat; categories: string[] }> {
  await requireDatasetRoot(sel.data);
  if ((sel.normalDir !== undefined || sel.abnormalDir !== undefined) && sel.format !== undefined && sel.format !== 'folder') {
    throw new CliError(`--normal-dir and --abnormal-dir name the folders of the folder layout, not of --format ${sel.format}`, EXIT.usage);
  }
  const index = await readDatasetFromDisk(sel.data, { ...(sel.format ? { format: sel.format as DatasetFormat } : {}), ...folderLayoutOf(sel) });
  let samples = sel.split === 'all' ? index.samples : index.samples.filter((s) => s.split === sel.split);
  const available = [...new Set(index.samples.map((s) => s.category))].sort();
  if (sel.categories && sel.categories.length > 0) {
    const unknown = sel.categories.filter((c) => !available.includes(c));
    if (unknown.length > 0)
      throw new CliError(
        `dataset ${sel.data}: no categor${unknown.length === 1 ? 'y' : 'ies'} ${unknown.join(', ')} (found: ${available.join(', ')})`,
        EXIT.usage,
      );
    samples = samples.filter((s) => sel.categories!.includes(s.category));
  }
  if (samples.length === 0) {
    throw new CliError(
      `dataset ${sel.data} (${index.format} layout): no images in split "${sel.split}"${sel.categories?.length ? ` of ${sel.categories.join(', ')}` : ''}`,
      EXIT.dataError,
      'choose another --split or --categories',
    );
  }
  return { samples, format: index.format, categories: [...new Set(samples.map((s) => s.category))].sort() };
}
