/**
 * Browser entry of @hgm/data: everything from the main entry, plus decoding through the platform and a file
 * system over files picked by the user. Node never loads this file.
 *
 * PNG and BMP are still decoded by the JavaScript decoders: a canvas would round 16-bit PNGs to 8 bits and
 * premultiply alpha, which would silently change masks. JPEG goes through `createImageBitmap` +
 * `OffscreenCanvas`, much faster than a JavaScript JPEG decoder. Other formats are refused as in Node, so that
 * a dataset reads the same on both.
 */
import { decodeImage, sniffImageFormat } from './codecs/decode-image';
import type { DecodedImage } from './codecs/image';
import { ImageDecodeError } from './errors';
import type { DatasetFileSystem } from './file-system';
import { memoryFileSystem } from './memory-file-system';

export * from './index';

interface BitmapLike {
  width: number;
  height: number;
  close?: () => void;
}
interface Context2dLike {
  drawImage(image: BitmapLike, x: number, y: number): void;
  getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
}

/**
 * Decodes image bytes in a browser (or worker): PNG and BMP exactly with the JavaScript decoders, JPEG with
 * the platform (8-bit RGB, colour-space conversion off where the platform allows). Falls back to the
 * JavaScript JPEG decoder where `createImageBitmap` or `OffscreenCanvas` is missing.
 * @throws ImageDecodeError naming the file
 */
export async function decodeImageInBrowser(bytes: Uint8Array, name: string): Promise<DecodedImage> {
  const sniffed = sniffImageFormat(bytes);
  if (sniffed !== 'jpeg') return decodeImage(bytes, name);
  const g = globalThis as unknown as {
    createImageBitmap?: (blob: Blob, options?: Record<string, string>) => Promise<BitmapLike>;
    OffscreenCanvas?: new (w: number, h: number) => { getContext(kind: '2d', options?: Record<string, unknown>): Context2dLike | null };
  };
  if (!g.createImageBitmap || !g.OffscreenCanvas) return decodeImage(bytes, name);
  let bitmap: BitmapLike;
  try {
    bitmap = await g.createImageBitmap(new Blob([bytes as BlobPart]), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (e) {
    throw new ImageDecodeError(name, `corrupt JPEG (the browser cannot decode it: ${(e as Error).message ?? String(e)})`, { cause: e });
  }
  try {
    const { width, height } = bitmap;
    const ctx = new g.OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new ImageDecodeError(name, 'no 2D canvas context available to read the pixels');
    ctx.drawImage(bitmap, 0, 0);
    const rgba = ctx.getImageData(0, 0, width, height).data;
    const rgb = new Uint8Array(width * height * 3);
    for (let i = 0, n = width * height; i < n; i++) {
      rgb[3 * i] = rgba[4 * i]!;
      rgb[3 * i + 1] = rgba[4 * i + 1]!;
      rgb[3 * i + 2] = rgba[4 * i + 2]!;
    }
    return { width, height, channels: 3, bitDepth: 8, data: rgb, format: 'jpeg' };
  } finally {
    bitmap.close?.();
  }
}

/**
 * A file system over files picked with `<input type="file" webkitdirectory>` (or dropped): each file's
 * `webkitRelativePath` (or name) is its path, so the picked folder's name is the dataset root.
 */
export function pickedFilesFileSystem(files: Iterable<File>): DatasetFileSystem {
  const map = new Map<string, File>();
  for (const f of files) map.set((f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name, f);
  return memoryFileSystem(map);
}
