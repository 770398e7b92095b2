import type { DatasetIssue, DatasetIssueKind } from '../errors';
import { hasImageExtension } from '../codecs/decode-image';
import { listSorted, type DatasetFileSystem, type DirectoryEntry } from '../file-system';
import type { DatasetSample } from '../sample';

/** What every reader gets: the file system, the caller's choices, and the lists it reports problems to. */
export interface ReaderContext {
  fs: DatasetFileSystem;
  /** Skip (with a warning) files that cannot be decoded while indexing, instead of failing. */
  skipCorrupt: boolean;
  errors: DatasetIssue[];
  warnings: DatasetIssue[];
}

/** A reader: lists the samples of one layout under `root`, reporting problems to the context. */
export type DatasetReader = (root: string, ctx: ReaderContext) => Promise<DatasetSample[]>;

export function addError(ctx: ReaderContext, path: string, kind: DatasetIssueKind, message: string): void {
  ctx.errors.push({ path, kind, message });
}

export function addWarning(ctx: ReaderContext, path: string, kind: DatasetIssueKind, message: string): void {
  ctx.warnings.push({ path, kind, message });
}

/** Sorted sub-folders of a folder (empty when it does not exist). */
export async function subfolders(ctx: ReaderContext, path: string): Promise<string[]> {
  if ((await ctx.fs.kind(path)) !== 'directory') return [];
  return (await listSorted(ctx.fs, path)).filter((e) => e.kind === 'directory').map((e) => e.name);
}

/**
 * Image files of a folder, sorted; other files are reported as ignored (never skipped silently) unless
 * `quiet` accepts them (e.g. `Labels.txt`).
 */
export async function imageFiles(ctx: ReaderContext, dir: string, quiet: (name: string) => boolean = () => false): Promise<string[]> {
  if ((await ctx.fs.kind(dir)) !== 'directory') return [];
  const entries: DirectoryEntry[] = await listSorted(ctx.fs, dir);
  const out: string[] = [];
  for (const e of entries) {
    if (e.kind !== 'file') continue;
    if (hasImageExtension(e.name)) out.push(e.name);
    else if (!quiet(e.name)) addWarning(ctx, `${dir}/${e.name}`, 'ignored-file', 'not a PNG, JPEG or BMP file name; ignored');
  }
  return out;
}
