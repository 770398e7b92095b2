import type { DatasetFileSystem, DirectoryEntry } from './file-system';

/** Anything with bytes: a `Uint8Array`, or a `Blob`/`File` (read when needed). */
export type FileContent = Uint8Array | { arrayBuffer(): Promise<ArrayBuffer> };

/**
 * A file system over a map of `path -> content` (paths with `/`; folders are implied by the paths). Serves
 * tests, files picked in a browser (`<input webkitdirectory>`), and archives unpacked in memory.
 */
export function memoryFileSystem(files: Map<string, FileContent> | Record<string, FileContent>): DatasetFileSystem {
  const map = new Map<string, FileContent>();
  const dirs = new Map<string, Map<string, 'file' | 'directory'>>();
  const norm = (p: string) =>
    p
      .replace(/\\/g, '/')
      .replace(/\/{2,}/g, '/')
      .replace(/^\.\//, '')
      .replace(/\/$/, '');
  const entries = files instanceof Map ? [...files.entries()] : Object.entries(files);
  for (const [raw, content] of entries) {
    const path = norm(raw);
    map.set(path, content);
    const parts = path.split('/');
    for (let i = 0; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/') || (path.startsWith('/') ? '/' : '.');
      const name = parts[i]!;
      if (name === '') continue;
      let d = dirs.get(parent);
      if (!d) dirs.set(parent, (d = new Map()));
      d.set(name, i === parts.length - 1 ? 'file' : 'directory');
    }
  }
  const dirKey = (p: string) => {
    const n = norm(p);
    return n === '' ? '.' : n;
  };
  return {
    async list(path) {
      const d = dirs.get(dirKey(path));
      if (!d) throw new Error(`${path}: cannot list folder (not found)`);
      return [...d.entries()].map(([name, kind]): DirectoryEntry => ({ name, kind }));
    },
    async readFile(path) {
      const c = map.get(norm(path));
      if (c === undefined) throw Object.assign(new Error(`${path}: cannot read (ENOENT)`), { code: 'ENOENT' });
      return c instanceof Uint8Array ? c : new Uint8Array(await c.arrayBuffer());
    },
    async kind(path) {
      const n = norm(path);
      if (map.has(n)) return 'file';
      return dirs.has(dirKey(path)) ? 'directory' : null;
    },
  };
}
