/** One entry of a folder listing. */
export interface DirectoryEntry {
  name: string;
  kind: 'file' | 'directory';
}

/**
 * The few file operations the readers need, so that they run on a local disk (`nodeFileSystem` in
 * `@hgm/data/node`), in memory, or over a browser directory handle. Paths use `/` separators.
 */
export interface DatasetFileSystem {
  /** Entries of a folder (any order); throws naming the path when it is not a readable folder. */
  list(path: string): Promise<DirectoryEntry[]>;
  /** The whole file; throws naming the path when it cannot be read. */
  readFile(path: string): Promise<Uint8Array>;
  /** What is at `path`, or null when nothing is. */
  kind(path: string): Promise<'file' | 'directory' | null>;
}

/** Joins path parts with `/`, dropping empty parts and duplicate separators (a leading `/` is kept). */
export function joinPath(...parts: string[]): string {
  const kept = parts.filter((p) => p.length > 0);
  if (kept.length === 0) return '';
  const joined = kept.join('/').replace(/\/{2,}/g, '/');
  return joined.length > 1 ? joined.replace(/\/$/, '') : joined;
}

/** Last part of a path. */
export function baseName(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, '');
  const i = Math.max(trimmed.lastIndexOf('/'), trimmed.lastIndexOf('\\'));
  return i >= 0 ? trimmed.slice(i + 1) : trimmed;
}

/** File name without its last extension (`000_mask.png` -> `000_mask`). */
export function fileStem(name: string): string {
  const base = baseName(name);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

/** Sorted entries (code-point order, the same on every platform), hidden entries (`.name`) left out. */
export async function listSorted(fs: DatasetFileSystem, path: string): Promise<DirectoryEntry[]> {
  const entries = await fs.list(path);
  return entries.filter((e) => !e.name.startsWith('.')).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
