import type { DatasetIssue } from './errors';

/** Which part of a dataset a sample belongs to. */
export type Split = 'train' | 'validation' | 'test';

/** Layouts the readers understand. */
export type DatasetFormat = 'mvtec' | 'mpdd' | 'btad' | 'dtd-synthetic' | 'mvtec-3d' | 'mvtec-loco' | 'visa' | 'ksdd2' | 'dagm' | 'meta-json' | 'folder';

export const DATASET_FORMATS: readonly DatasetFormat[] = [
  'mvtec',
  'mpdd',
  'btad',
  'dtd-synthetic',
  'mvtec-3d',
  'mvtec-loco',
  'visa',
  'ksdd2',
  'dagm',
  'meta-json',
  'folder',
];

/** The name every reader gives the defect type of normal samples. */
export const NORMAL_DEFECT_TYPE = 'good';

/** One image of a dataset, by reference (the pixels are read by `loadSample`). */
export interface DatasetSample {
  /** Image file path, as the file system takes it. */
  imagePath: string;
  /**
   * Mask files of the image; several are united (MVTec LOCO has one file per defect). Empty when the dataset
   * has no mask for this image: normal images usually, anomalous ones in classification-only sets.
   */
  maskPaths: string[];
  /** 0 normal, 1 anomalous. */
  label: 0 | 1;
  /** Object or texture class (`bottle`, `candle`, `Class3`, ...). */
  category: string;
  /** Defect folder or type (`good` for normal samples). */
  defectType: string;
  split: Split;
}

/** What a reader found: the samples, and every problem with the layout. */
export interface DatasetIndex {
  root: string;
  format: DatasetFormat;
  /** Whether the format was detected (true) or given by the caller. */
  detected: boolean;
  samples: DatasetSample[];
  /** Problems that make the set wrong (missing masks, unparsable rows, ...). */
  errors: DatasetIssue[];
  /** Things the user should know that do not make it wrong (ignored files, orphan masks, skipped corrupt files). */
  warnings: DatasetIssue[];
}
