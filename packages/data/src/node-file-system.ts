import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DatasetFileSystem, DirectoryEntry } from './file-system';

/** The local disk, through `node:fs/promises` (symbolic links are followed). */
export const nodeFileSystem: DatasetFileSystem = {
  async list(path) {
    let entries;
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw Object.assign(new Error(`${path}: cannot list folder (${err.code ?? err.message})`), { code: err.code });
    }
    const out: DirectoryEntry[] = [];
    for (const e of entries) {
      if (e.isDirectory()) out.push({ name: e.name, kind: 'directory' });
      else if (e.isFile()) out.push({ name: e.name, kind: 'file' });
      else if (e.isSymbolicLink()) {
        const s = await stat(join(path, e.name)).catch(() => null);
        if (s?.isDirectory()) out.push({ name: e.name, kind: 'directory' });
        else if (s?.isFile()) out.push({ name: e.name, kind: 'file' });
      }
    }
    return out;
  },
  async readFile(path) {
    try {
      const buf = await readFile(path);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw Object.assign(new Error(`${path}: cannot read (${err.code ?? err.message})`), { code: err.code });
    }
  },
  async kind(path) {
    const s = await stat(path).catch(() => null);
    if (!s) return null;
    return s.isDirectory() ? 'directory' : s.isFile() ? 'file' : null;
  },
};
