/**
 * File names for per-image outputs (maps) that cannot collide: the file stem; the folder path joined with
 * `__` when stems collide; the extension kept (`Y92_jpg`, `Y92_png`) when the same stem has several
 * extensions in one folder; a counter as the last resort (names that differ only in case).
 */
import { resolve, sep } from 'node:path';

function stemOf(p: string): string {
  const base = p.split(/[\\/]/).pop()!;
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

function safe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_');
}

/** Output names (no extension, no folder) for each path, unique case-insensitively. */
export function uniqueOutputNames(paths: readonly string[]): Map<string, string> {
  const abs = paths.map((p) => resolve(p));
  const common = commonDir(abs);
  const rel = abs.map((a) => a.slice(common.length).replace(/^[\\/]+/, ''));
  const candidates: ((i: number) => string)[] = [
    (i) => safe(stemOf(paths[i]!)),
    (i) => safe(rel[i]!.replace(/\.[^./\\]+$/, '').replace(/[\\/]/g, '__')),
    (i) => safe(rel[i]!.replace(/\.([^./\\]+)$/, '_$1').replace(/[\\/]/g, '__')),
  ];
  const names = paths.map((_, i) => candidates[0]!(i));
  for (let level = 1; level <= candidates.length; level++) {
    const groups = new Map<string, number[]>();
    names.forEach((n, i) => groups.set(n.toLowerCase(), [...(groups.get(n.toLowerCase()) ?? []), i]));
    const clashes = [...groups.values()].filter((g) => g.length > 1);
    if (clashes.length === 0) break;
    for (const group of clashes) {
      group.forEach((i, k) => {
        names[i] = level < candidates.length ? candidates[level]!(i) : `${names[i]}_${k + 1}`;
      });
    }
  }
  const out = new Map<string, string>();
  paths.forEach((p, i) => out.set(p, names[i]!));
  return out;
}

function commonDir(paths: string[]): string {
  if (paths.length === 0) return sep;
  let prefix = paths[0]!.split(/[\\/]/).slice(0, -1);
  for (const p of paths.slice(1)) {
    const parts = p.split(/[\\/]/);
    let k = 0;
    while (k < prefix.length && prefix[k] === parts[k]) k++;
    prefix = prefix.slice(0, k);
  }
  return prefix.join(sep) || sep;
}
