/**
 * Errors of @hgm/data. Every error names the file it is about, so that a user with thousands of images
 * can find the one that broke the run.
 */

import { HgmError } from '@hgm/tensor';

/** A problem with one file of a dataset: unreadable, corrupt, missing, or inconsistent with its partner. */
export class DataError extends HgmError {
  readonly code = 'data' as const;
  /** The file the problem is about (as given to the file system). */
  readonly path: string;
  /** What kind of problem it is (for summaries). */
  readonly kind: DatasetIssueKind;
  /** The message without the path. */
  readonly detail: string;
  constructor(path: string, message: string, options?: { cause?: unknown; kind?: DatasetIssueKind }) {
    super(`${path}: ${message}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DataError';
    this.path = path;
    this.detail = message;
    this.kind = options?.kind ?? 'corrupt';
  }
}

/** An image or mask that cannot be decoded (truncated, corrupt, or in an unsupported encoding). */
export class ImageDecodeError extends DataError {
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(path, message, { ...options, kind: 'corrupt' });
    this.name = 'ImageDecodeError';
  }
}

/** One problem found while indexing or checking a dataset. */
export interface DatasetIssue {
  /** The file (or folder) the problem is about. */
  path: string;
  /** What kind of problem it is. */
  kind: DatasetIssueKind;
  /** What was expected and what was found. */
  message: string;
}

export type DatasetIssueKind =
  | 'layout'
  | 'missing-file'
  | 'missing-mask'
  | 'orphan-mask'
  | 'size-mismatch'
  | 'label-mismatch'
  | 'corrupt'
  | 'skipped-corrupt'
  | 'ignored-file'
  | 'lossy-mask'
  /** A folder under the root that nothing was read from (named with the reason). */
  | 'skipped-folder'
  /** A test split whose image metrics are undefined or degenerate (one class only). */
  | 'one-class-test';

/** Thrown by a reader when the dataset has errors; lists every one of them. */
export class DatasetError extends HgmError {
  readonly code = 'dataset' as const;
  readonly issues: DatasetIssue[];
  constructor(root: string, issues: DatasetIssue[]) {
    const shown = issues.slice(0, 20).map((i) => `  - ${i.path}: ${i.message}`);
    if (issues.length > shown.length) shown.push(`  ... and ${issues.length - shown.length} more`);
    super(`dataset ${root}: ${issues.length} error${issues.length === 1 ? '' : 's'}\n${shown.join('\n')}`);
    this.name = 'DatasetError';
    this.issues = issues;
  }
}
