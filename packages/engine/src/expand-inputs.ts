/**
 * Expands detection inputs: image files, folders (searched recursively for images) and glob patterns
 * (`*`, `?`, `**`, `[abc]`). Every input that matches nothing is an error naming it.
 */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { hasImageExtension } from '@hgm/data';
import { InputNotFoundError } from '@hgm/tensor';

/** Converts one glob segment to a regular expression. */
function segmentRegex(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = segment.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${segment
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function isGlob(s: string): boolean {
  return /[*?[]/.test(s);
}

async function walkImages(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) await walkImages(p, out);
    else if (e.isFile() && hasImageExtension(e.name)) out.push(p);
  }
}

async function matchGlob(pattern: string): Promise<string[]> {
  const abs = resolve(pattern);
  const parts = abs.split(sep);
  let firstGlob = parts.findIndex(isGlob);
  if (firstGlob < 0) firstGlob = parts.length;
  const base = parts.slice(0, firstGlob).join(sep) || sep;
  const rest = parts.slice(firstGlob);
  const out: string[] = [];
  const walk = async (dir: string, i: number): Promise<void> => {
    if (i === rest.length) {
      out.push(dir);
      return;
    }
    const seg = rest[i]!;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    if (seg === '**') {
      await walk(dir, i + 1);
      for (const e of entries) if (e.isDirectory() && !e.name.startsWith('.')) await walk(join(dir, e.name), i);
      return;
    }
    const re = segmentRegex(seg);
    for (const e of entries) {
      if (!re.test(e.name)) continue;
      if (i === rest.length - 1 ? e.isFile() : e.isDirectory()) await walk(join(dir, e.name), i + 1);
    }
  };
  await walk(base, 0);
  return out.filter((p) => hasImageExtension(p)).sort();
}

/** Expands files, folders and globs into a sorted, de-duplicated list of image paths. */
export async function expandInputs(inputs: readonly string[]): Promise<string[]> {
  if (inputs.length === 0) throw new InputNotFoundError('inputs', 'no input images given');
  const seen = new Set<string>();
  const out: string[] = [];
  for (const input of inputs) {
    let found: string[] = [];
    if (isGlob(input)) {
      found = await matchGlob(input);
      if (found.length === 0) throw new InputNotFoundError(input, `${input}: the pattern matches no image (png, jpg, jpeg, bmp)`);
    } else {
      const s = await stat(input).catch(() => null);
      if (!s) throw new InputNotFoundError(input, `${input}: no such file or folder`);
      if (s.isDirectory()) {
        await walkImages(input, found);
        if (found.length === 0) throw new InputNotFoundError(input, `${input}: the folder holds no image (png, jpg, jpeg, bmp)`);
      } else {
        if (!hasImageExtension(input)) throw new InputNotFoundError(input, `${input}: not an image file (expected .png, .jpg, .jpeg or .bmp)`);
        found = [input];
      }
    }
    for (const f of found) {
      const key = resolve(f);
      if (!seen.has(key)) {
        seen.add(key);
        out.push(f);
      }
    }
  }
  return out;
}
