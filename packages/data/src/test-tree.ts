/**
 * Helpers for the package's tests: small images and masks, and dataset trees written to a temporary folder.
 * Not exported from the package entries.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { encodePng } from './codecs/png';

/** An 8-bit RGB PNG filled with one colour plus a small position-dependent pattern. */
export function rgbPng(width: number, height: number, seed = 0): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    data[3 * i] = (i * 7 + seed * 13) % 256;
    data[3 * i + 1] = (i * 3 + seed * 5) % 256;
    data[3 * i + 2] = (i + seed) % 256;
  }
  return encodePng({ width, height, channels: 3, bitDepth: 8, data });
}

/** An 8-bit gray mask PNG with 255 inside the rectangle [x0, x1) x [y0, y1) (all zero when `rect` is null). */
export function maskPng(width: number, height: number, rect: [number, number, number, number] | null): Uint8Array {
  const data = new Uint8Array(width * height);
  if (rect) {
    const [x0, y0, x1, y1] = rect;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[y * width + x] = 255;
  }
  return encodePng({ width, height, channels: 1, bitDepth: 8, data });
}

/** Writes `files` (relative path -> bytes or text) under a new temporary folder and returns its path. */
export async function writeTree(files: Record<string, Uint8Array | string>, prefix = 'hgm-data-'): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  for (const [rel, content] of Object.entries(files)) {
    const path = join(root, rel);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
  }
  return root;
}
